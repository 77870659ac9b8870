#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>

#include <pqxx/pqxx>

namespace vesta::testing {

// The PostgreSQL server the tests may use: $VESTA_TEST_POSTGRES_URL, which
// scripts/test.sh sets after starting a throwaway cluster
// (scripts/pg-test-cluster.sh). Unset: the tests that need it skip.
inline std::optional<std::string> postgres_url() {
  const char* url = std::getenv("VESTA_TEST_POSTGRES_URL");
  if (url == nullptr || *url == '\0') return std::nullopt;
  return std::string(url);
}

// Skips the current test, saying why, when no PostgreSQL server is given.
#define VESTA_SKIP_WITHOUT_POSTGRES()                                                          \
  do {                                                                                         \
    if (!::vesta::testing::postgres_url()) {                                                   \
      GTEST_SKIP() << "needs PostgreSQL: VESTA_TEST_POSTGRES_URL is not set (scripts/test.sh " \
                      "starts a cluster with scripts/pg-test-cluster.sh and sets it)";         \
    }                                                                                          \
  } while (false)

// A name no other test (or run) uses: `stem`, the process id, a counter and
// a random number, within PostgreSQL's 63-character identifiers.
inline std::string unique_name(const std::string& stem) {
  static std::atomic<int> counter{0};
  static const unsigned kRandom = std::random_device{}() % 100000;
  return stem.substr(0, 30) + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) +
         "_" + std::to_string(kRandom);
}

// Runs `sql` on `url` outside a transaction; returns the result.
inline pqxx::result postgres_exec(const std::string& url, const std::string& sql) {
  pqxx::connection connection(url);
  pqxx::nontransaction txn(connection);
  return txn.exec(sql);
}

// `url` with its database replaced: postgresql://user@host:port/<database>?...
inline std::string with_database(const std::string& url, const std::string& database) {
  const size_t authority = url.find("://");
  const size_t path = url.find('/', authority == std::string::npos ? 0 : authority + 3);
  const size_t query = url.find('?');
  const std::string head = path == std::string::npos ? url.substr(0, query) : url.substr(0, path);
  return head + "/" + database + (query == std::string::npos ? "" : url.substr(query));
}

// `url` with its user replaced (and any password dropped).
inline std::string with_user(const std::string& url, const std::string& user) {
  const size_t authority = url.find("://") + 3;
  const size_t at = url.find('@', authority);
  const size_t path = url.find('/', authority);
  const size_t host =
      at != std::string::npos && (path == std::string::npos || at < path) ? at + 1 : authority;
  return url.substr(0, authority) + user + "@" + url.substr(host);
}

// `url` with one more query parameter.
inline std::string with_parameter(const std::string& url, const std::string& parameter) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + parameter;
}

// A new, empty database on the test server (for tests that change what is
// shared by every workspace, such as the schema version); dropped with the
// object.
class ScratchDatabase {
 public:
  explicit ScratchDatabase(const std::string& stem)
      : name_(unique_name("vesta_" + stem)), url_(with_database(*postgres_url(), name_)) {
    postgres_exec(*postgres_url(), "CREATE DATABASE " + name_);
  }
  ~ScratchDatabase() {
    try {
      postgres_exec(*postgres_url(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot drop database " << name_ << ": " << e.what();
    }
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const std::string& url() const { return url_; }

 private:
  std::string name_;
  std::string url_;
};

}  // namespace vesta::testing
