#include "persistence/pg_connection_pool.h"

#include <libpq-fe.h>

#include <map>
#include <utility>

namespace vesta::persistence {
namespace {

// libpq's messages end in a newline and may span lines; one line for logs.
std::string one_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text;
}

// The password of a postgresql://user:password@host URI, if it has one, so
// that an error message quoting the URI can mask it.
std::string uri_password(const std::string& uri) {
  const size_t scheme = uri.find("://");
  if (scheme == std::string::npos) return {};
  const size_t start = scheme + 3;
  const size_t at = uri.find('@', start);
  if (at == std::string::npos) return {};
  const size_t colon = uri.find(':', start);
  if (colon == std::string::npos || colon > at) return {};
  return uri.substr(colon + 1, at - colon - 1);
}

std::string mask(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

// A libpq connection string value: single-quoted, with \ and ' escaped.
std::string quote_value(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

core::Result<PgConnectionSettings> pg_connection_settings(const std::string& uri,
                                                          std::chrono::seconds connect_timeout,
                                                          std::chrono::seconds statement_timeout) {
  if (uri.empty()) return core::invalid_argument("the PostgreSQL URI is empty");
  if (connect_timeout.count() < 1 || statement_timeout.count() < 1) {
    return core::invalid_argument("the PostgreSQL connect and statement timeouts must be >= 1 s");
  }
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(uri.c_str(), &error);
  if (parsed == nullptr) {
    std::string why = error != nullptr ? one_line(error) : "out of memory";
    PQfreemem(error);
    return core::invalid_argument("the PostgreSQL URI cannot be read: " +
                                  mask(why, uri_password(uri)));
  }
  std::map<std::string, std::string> values;
  for (const PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) values[o->keyword] = o->val;
  }
  PQconninfoFree(parsed);

  // Vesta's settings win over the URI's for these two (the flags are the
  // documented way to set them).
  values["connect_timeout"] = std::to_string(connect_timeout.count());
  std::string& options = values["options"];
  options += (options.empty() ? "" : " ") + std::string("-c statement_timeout=") +
             std::to_string(statement_timeout.count() * 1000);
  // A dead peer (no RST: a cut network, a frozen host) is noticed within about
  // a minute rather than the kernel's two hours.
  values.try_emplace("keepalives", "1");
  values.try_emplace("keepalives_idle", "30");
  values.try_emplace("keepalives_interval", "10");
  values.try_emplace("keepalives_count", "3");
  values.try_emplace("fallback_application_name", "vesta");

  PgConnectionSettings settings;
  for (const auto& [key, value] : values) {
    settings.conninfo += (settings.conninfo.empty() ? "" : " ") + key + "=" + quote_value(value);
  }
  auto value_of = [&](const char* key) {
    auto it = values.find(key);
    return it == values.end() ? std::string() : it->second;
  };
  std::string host = value_of("host");
  if (host.empty()) host = value_of("hostaddr");
  if (host.empty()) host = "local socket";
  const std::string port = value_of("port");
  const std::string user = value_of("user");
  settings.description = "PostgreSQL " + (user.empty() ? std::string() : user + "@") + host +
                         (port.empty() ? "" : ":" + port) + "/" +
                         (value_of("dbname").empty() ? user : value_of("dbname"));
  if (const std::string sslmode = value_of("sslmode"); !sslmode.empty()) {
    settings.description += " (sslmode " + sslmode + ")";
  }
  return settings;
}

core::Result<std::unique_ptr<pqxx::connection>> pg_connect(const std::string& conninfo) {
  try {
    return std::make_unique<pqxx::connection>(conninfo);
  } catch (const std::exception& e) {
    return core::Status(core::StatusCode::kUnavailable,
                        "PostgreSQL unreachable: " + one_line(e.what()));
  }
}

core::Status pg_current_exception_status(const std::string& doing) {
  try {
    throw;
  } catch (const pqxx::broken_connection& e) {
    return {core::StatusCode::kUnavailable, "PostgreSQL unreachable: " + one_line(e.what())};
  } catch (const pqxx::in_doubt_error& e) {
    return {core::StatusCode::kUnavailable,
            "PostgreSQL unreachable during COMMIT (its outcome is unknown): " + one_line(e.what())};
  } catch (const pqxx::sql_error& e) {
    const std::string& state = e.sqlstate();
    if (state == "57014") {  // query_canceled: statement_timeout
      return {core::StatusCode::kUnavailable,
              "PostgreSQL " + doing + " timed out: " + one_line(e.what())};
    }
    if (state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0) {  // connection, shutdown
      return {core::StatusCode::kUnavailable, "PostgreSQL unreachable: " + one_line(e.what())};
    }
    return core::internal_error("PostgreSQL " + doing + " failed: " + one_line(e.what()) +
                                (state.empty() ? "" : " (SQLSTATE " + state + ")"));
  } catch (const std::exception& e) {
    return core::internal_error("PostgreSQL " + doing + " failed: " + one_line(e.what()));
  }
}

bool pg_current_exception_broke_connection() {
  try {
    throw;
  } catch (const pqxx::broken_connection&) {
    return true;
  } catch (const pqxx::in_doubt_error&) {
    return true;
  } catch (const pqxx::sql_error& e) {
    const std::string& state = e.sqlstate();
    return state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0;
  } catch (...) {
    return false;
  }
}

PgConnectionPool::Lease::Lease(PgConnectionPool* pool, std::unique_ptr<pqxx::connection> connection)
    : pool_(pool), connection_(std::move(connection)) {}

PgConnectionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), connection_(std::move(other.connection_)) {}

PgConnectionPool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->give_back(std::move(connection_), false);
}

void PgConnectionPool::Lease::discard() {
  if (pool_ != nullptr) pool_->give_back(std::move(connection_), true);
  pool_ = nullptr;
}

PgConnectionPool::PgConnectionPool(std::string conninfo, size_t size)
    : conninfo_(std::move(conninfo)), size_(size) {
  VESTA_CHECK(size_ >= 1) << "a connection pool needs room for one connection";
}

PgConnectionPool::~PgConnectionPool() {
  std::lock_guard lock(mutex_);
  VESTA_CHECK(leased_ == 0) << leased_ << " PostgreSQL connections still leased";
}

core::Result<PgConnectionPool::Lease> PgConnectionPool::acquire() {
  {
    std::unique_lock lock(mutex_);
    returned_.wait(lock, [&] { return !idle_.empty() || leased_ < size_; });
    ++leased_;
    if (!idle_.empty()) {
      std::unique_ptr<pqxx::connection> connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(connection));
    }
  }
  // Connect outside the lock: it may take up to connect_timeout.
  core::Result<std::unique_ptr<pqxx::connection>> connection = pg_connect(conninfo_);
  if (!connection.is_ok()) {
    std::lock_guard lock(mutex_);
    --leased_;
    returned_.notify_one();
    return connection.status();
  }
  return Lease(this, std::move(connection).value());
}

void PgConnectionPool::give_back(std::unique_ptr<pqxx::connection> connection, bool broken) {
  std::vector<std::unique_ptr<pqxx::connection>> closing;
  {
    std::lock_guard lock(mutex_);
    --leased_;
    if (broken) {
      closing = std::move(idle_);
      idle_.clear();
      closing.push_back(std::move(connection));
    } else {
      idle_.push_back(std::move(connection));
    }
  }
  returned_.notify_all();
  // `closing` closes its connections here, outside the lock.
}

}  // namespace vesta::persistence
