#include "persistence/sha256.h"

#include <openssl/evp.h>

#include <array>

#include "core/check.h"

namespace vesta::persistence {

struct Sha256::Context {
  EVP_MD_CTX* md = nullptr;
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  context_->md = EVP_MD_CTX_new();
  VESTA_CHECK(context_->md != nullptr &&
              EVP_DigestInit_ex(context_->md, EVP_sha256(), nullptr) == 1)
      << "SHA-256 unavailable";
}

Sha256::~Sha256() { EVP_MD_CTX_free(context_->md); }

void Sha256::update(std::string_view bytes) {
  VESTA_CHECK(EVP_DigestUpdate(context_->md, bytes.data(), bytes.size()) == 1)
      << "SHA-256 update failed";
}

std::string Sha256::hex() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  VESTA_CHECK(EVP_DigestFinal_ex(context_->md, digest.data(), &length) == 1)
      << "SHA-256 final failed";
  constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kDigits[digest[i] >> 4]);
    out.push_back(kDigits[digest[i] & 0xF]);
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 hasher;
  hasher.update(bytes);
  return hasher.hex();
}

}  // namespace vesta::persistence
