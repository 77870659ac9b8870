#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace vesta::persistence {

// SHA-256 (OpenSSL's), fed in pieces; the digest as 64 lower-case hex
// digits, as Qdrant gives a snapshot's checksum. Not thread-safe.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  // The digest of everything given; the hasher is spent after it.
  std::string hex();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// The SHA-256 of `bytes` in hex.
std::string sha256_hex(std::string_view bytes);

}  // namespace vesta::persistence
