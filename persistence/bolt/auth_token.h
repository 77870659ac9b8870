#pragma once

#include <string>

#include "persistence/bolt/value.h"

namespace vesta::bolt {

// Credentials for HELLO (Bolt 4.4 and 5.0) or LOGON (5.1+): the scheme
// "none", "basic" (user and password) or "bearer" (a token, e.g. an SSO
// JWT). Holds secrets: never log it.
struct AuthToken {
  std::string scheme = "none";
  std::string principal;    // basic: the user
  std::string credentials;  // basic: the password; bearer: the token

  static AuthToken none() { return {}; }
  static AuthToken basic(std::string user, std::string password) {
    return {"basic", std::move(user), std::move(password)};
  }
  static AuthToken bearer(std::string token) { return {"bearer", {}, std::move(token)}; }

  // The entries the protocol defines for the scheme: {scheme} for none,
  // {scheme, principal, credentials} for basic, {scheme, credentials} for
  // bearer.
  Dictionary to_dictionary() const {
    Dictionary token{{"scheme", scheme}};
    if (scheme == "basic") token.set("principal", principal);
    if (scheme != "none") token.set("credentials", credentials);
    return token;
  }
};

}  // namespace vesta::bolt
