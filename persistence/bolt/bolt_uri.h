#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace vesta::bolt {

enum class TlsMode {
  kOff,       // bolt://, neo4j://
  kVerify,    // bolt+s://, neo4j+s://: the server's certificate chain and host name are checked
  kNoVerify,  // bolt+ssc://, neo4j+ssc://: encrypted, any certificate accepted (self-signed)
};

// Where to connect, from a Bolt URI: scheme://host[:port][/][?query].
//
// neo4j:// (and neo4j+s://, neo4j+ssc://) asks a Neo4j driver to route: to
// ask the server for a routing table and spread reads and writes over a
// cluster. This client does not route: it treats a neo4j:// URI as a direct
// connection to the host named, like bolt://. Against a single server (or a
// cluster's leader, or a load balancer in front of one) that is the same;
// against a cluster's follower, writes fail with
// Neo.ClientError.Cluster.NotALeader (classed transient, so they are retried).
// `routing_requested` says the URI asked for routing.
struct BoltUri {
  std::string scheme;  // as written, lower case
  std::string host;    // without brackets for IPv6
  std::uint16_t port = 7687;
  TlsMode tls = TlsMode::kOff;
  bool routing_requested = false;

  // "bolt://host:port" (IPv6 in brackets): for messages and logs.
  std::string address() const;

  // InvalidArgument naming the fault for an unknown scheme, a missing host,
  // a bad port, or user information in the URI (credentials belong in the
  // auth token, never in a URI that gets logged).
  static core::Result<BoltUri> parse(const std::string& uri);
};

}  // namespace vesta::bolt
