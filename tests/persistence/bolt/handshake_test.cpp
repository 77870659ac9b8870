// The handshake. Byte examples from the Bolt documentation's "Handshake"
// page (neo4j.com/docs/bolt/current/bolt/handshake/, source
// modules/ROOT/pages/bolt/handshake.adoc of github.com/neo4j/docs-bolt).
#include "persistence/bolt/handshake.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace vesta::bolt {
namespace {

using Answer = std::array<std::uint8_t, 4>;

core::Result<BoltVersion> parse(Answer answer, const std::vector<VersionProposal>& proposals) {
  return parse_handshake_response(std::span<const std::uint8_t, 4>(answer), proposals);
}

// "Example with versions 4.3 plus two previous minor versions": 00 02 03 04
// is major 4, minor 3, range 2; our range proposal is laid out the same way.
TEST(Handshake, RequestIsTheMagicThenFourProposals) {
  core::Result<std::array<std::uint8_t, 20>> request =
      handshake_request(default_version_proposals());
  ASSERT_TRUE(request.is_ok());
  const std::array<std::uint8_t, 20> expected = {0x60, 0x60, 0xB0, 0x17,  // "C: 60 60 B0 17"
                                                 0x00, 0x04, 0x04, 0x05,  // 5.4 down to 5.0
                                                 0x00, 0x00, 0x04, 0x04,  // 4.4
                                                 0x00, 0x00, 0x00, 0x00,  // none
                                                 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(request.value(), expected);
}

// "Example where the client is aware of five Bolt versions; 3, 4.0, 4.1, 4.2
// and 4.3, and the server responds with 4.1": C: 00 03 03 04 ..., S: 00 00
// 01 04. The answer's layout is the same for the versions we propose.
TEST(Handshake, ServerAnswerNamesAVersionInTheProposedRanges) {
  const std::vector<VersionProposal> documented = {{4, 3, 3}, {4, 0, 0}, {3, 0, 0}};
  // 4.x and 3 are not spoken here, but the answer parsing is the same.
  core::Result<BoltVersion> v41 = parse({0x00, 0x00, 0x01, 0x04}, documented);
  ASSERT_TRUE(v41.is_ok());
  EXPECT_EQ(v41.value(), (BoltVersion{4, 1}));

  const auto ours = default_version_proposals();
  for (std::uint8_t minor = 0; minor <= 4; ++minor) {
    core::Result<BoltVersion> v = parse({0, 0, minor, 5}, ours);
    ASSERT_TRUE(v.is_ok()) << int(minor);
    EXPECT_EQ(v.value(), (BoltVersion{5, minor}));
  }
  EXPECT_EQ(parse({0, 0, 4, 4}, ours).value(), (BoltVersion{4, 4}));
}

// "... the server responds with no version": S: 00 00 00 00.
TEST(Handshake, NoVersionIsUnavailable) {
  core::Result<BoltVersion> none = parse({0, 0, 0, 0}, default_version_proposals());
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), core::StatusCode::kUnavailable);
}

TEST(Handshake, AVersionNeverProposedIsAProtocolError) {
  // FalkorDB 4.16 answers 5.7 to a lone 5.8 proposal (docs/graph.md).
  core::Result<BoltVersion> v57 = parse({0, 0, 7, 5}, default_version_proposals());
  ASSERT_FALSE(v57.is_ok());
  EXPECT_EQ(v57.status().code(), core::StatusCode::kInternal);
  EXPECT_NE(v57.status().message().find("00 00 07 05"), std::string::npos);
  EXPECT_FALSE(parse({0, 0, 3, 4}, default_version_proposals()).is_ok());
  EXPECT_FALSE(parse({0, 1, 4, 5}, default_version_proposals()).is_ok());
}

TEST(Handshake, AnHttpAnswerSaysSo) {
  core::Result<BoltVersion> http = parse({'H', 'T', 'T', 'P'}, default_version_proposals());
  ASSERT_FALSE(http.is_ok());
  EXPECT_NE(http.status().message().find("HTTP"), std::string::npos);
}

TEST(Handshake, RefusesProposalsItCannotSpeak) {
  const std::vector<VersionProposal> too_many(5, VersionProposal{5, 0, 0});
  EXPECT_FALSE(handshake_request(too_many).is_ok());
  const std::vector<VersionProposal> crossing = {{5, 2, 3}};
  EXPECT_FALSE(handshake_request(crossing).is_ok());
  const std::vector<VersionProposal> unknown = {{5, 6, 0}};
  EXPECT_FALSE(handshake_request(unknown).is_ok());
  const std::vector<VersionProposal> old = {{4, 3, 0}};
  EXPECT_FALSE(handshake_request(old).is_ok());
  const std::vector<VersionProposal> single = {{5, 1, 0}};
  EXPECT_TRUE(handshake_request(single).is_ok());
}

}  // namespace
}  // namespace vesta::bolt
