#include "persistence/bolt/bolt_uri.h"

#include <gtest/gtest.h>

namespace vesta::bolt {
namespace {

BoltUri parsed(const std::string& text) {
  core::Result<BoltUri> uri = BoltUri::parse(text);
  EXPECT_TRUE(uri.is_ok()) << text << ": " << uri.status().to_string();
  return uri.is_ok() ? uri.value() : BoltUri{};
}

TEST(BoltUri, ReadsEverySchemeWithItsTlsMode) {
  EXPECT_EQ(parsed("bolt://db.example:7688").tls, TlsMode::kOff);
  EXPECT_EQ(parsed("bolt+s://db.example").tls, TlsMode::kVerify);
  EXPECT_EQ(parsed("bolt+ssc://db.example").tls, TlsMode::kNoVerify);
  EXPECT_EQ(parsed("neo4j+s://db.example").tls, TlsMode::kVerify);
  EXPECT_EQ(parsed("neo4j+ssc://db.example").tls, TlsMode::kNoVerify);
  EXPECT_EQ(parsed("BOLT://db.example").scheme, "bolt");
}

TEST(BoltUri, Neo4jSchemeIsADirectConnectionToTheHostNamed) {
  const BoltUri uri = parsed("neo4j://cluster.example:7690/?policy=eu");
  EXPECT_TRUE(uri.routing_requested);
  EXPECT_EQ(uri.host, "cluster.example");
  EXPECT_EQ(uri.port, 7690);
  EXPECT_EQ(uri.tls, TlsMode::kOff);
  EXPECT_FALSE(parsed("bolt://cluster.example").routing_requested);
}

TEST(BoltUri, ReadsHostsAndPorts) {
  EXPECT_EQ(parsed("bolt://127.0.0.1").port, 7687);
  EXPECT_EQ(parsed("bolt://127.0.0.1:1").port, 1);
  EXPECT_EQ(parsed("bolt://[::1]:7000").host, "::1");
  EXPECT_EQ(parsed("bolt://[::1]:7000").port, 7000);
  EXPECT_EQ(parsed("bolt://[::1]").port, 7687);
  EXPECT_EQ(parsed("bolt://[::1]:7000").address(), "bolt://[::1]:7000");
  EXPECT_EQ(parsed("bolt+s://db.example/").address(), "bolt+s://db.example:7687");
}

TEST(BoltUri, RefusesWhatItCannotUse) {
  for (const char* bad : {"", "db.example:7687", "http://db.example", "bolt://", "bolt://:7687",
                          "bolt://db.example:", "bolt://db.example:0", "bolt://db.example:65536",
                          "bolt://db.example:x", "bolt://[::1", "bolt://[::1]x"}) {
    EXPECT_FALSE(BoltUri::parse(bad).is_ok()) << bad;
  }
  core::Result<BoltUri> credentials = BoltUri::parse("bolt://neo4j:secret@db.example");
  ASSERT_FALSE(credentials.is_ok());
  EXPECT_EQ(credentials.status().message().find("secret"), std::string::npos)
      << "the password never appears in the message";
}

}  // namespace
}  // namespace vesta::bolt
