#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "core/status.h"

namespace vesta::persistence {

// How to reach a PostgreSQL server: the libpq connection string built from a
// postgresql:// URI and Vesta's settings, and a description for the logs.
struct PgConnectionSettings {
  // key='value' pairs for libpq: everything the URI says (host lists, port,
  // dbname, user, password, sslmode, sslrootcert, sslcert, sslkey, ...),
  // connect_timeout and statement_timeout (in `options`) from Vesta's
  // settings, keepalives unless the URI sets them, and
  // fallback_application_name=vesta. Holds the password: never log it.
  std::string conninfo;
  // "PostgreSQL vesta@db.example:5432/vesta (sslmode verify-full)": never
  // the password.
  std::string description;
};

// Parses `uri` with libpq (PQconninfoParse); an InvalidArgument naming what
// is wrong (with any password in it masked) when libpq cannot read it.
// connect_timeout and statement_timeout must be at least one second.
core::Result<PgConnectionSettings> pg_connection_settings(const std::string& uri,
                                                          std::chrono::seconds connect_timeout,
                                                          std::chrono::seconds statement_timeout);

// Opens one connection; kUnavailable "PostgreSQL unreachable: <libpq's
// message>" when it cannot.
core::Result<std::unique_ptr<pqxx::connection>> pg_connect(const std::string& conninfo);

// The Status for the exception being handled (call it in a catch block):
// a broken connection, or a COMMIT whose outcome is unknown, is kUnavailable
// "PostgreSQL unreachable: ..."; a statement timeout kUnavailable too; any
// other error kInternal "PostgreSQL <doing> failed: ... (SQLSTATE xxxxx)".
core::Status pg_current_exception_status(const std::string& doing);
// Whether the exception being handled means the connection is unusable.
bool pg_current_exception_broke_connection();

// Up to `size` connections to one server, opened when first needed and
// reused. A lease gives one thread a connection until it is returned; a
// connection that broke is discarded by its holder (Lease::discard), and the
// next acquire opens a new one, so the pool recovers on its own once the
// server is back.
//
// Thread-safe. A connection is used by one thread at a time (its lease's).
class PgConnectionPool {
 public:
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();  // returns the connection, unless discarded

    pqxx::connection& connection() { return *connection_; }
    // Closes the connection instead of returning it (it broke, or its state
    // is unknown). Every idle one is closed too: what broke one (a server
    // restart, pg_terminate_backend) has usually broken them all.
    void discard();

   private:
    friend class PgConnectionPool;
    Lease(PgConnectionPool* pool, std::unique_ptr<pqxx::connection> connection);

    PgConnectionPool* pool_;
    std::unique_ptr<pqxx::connection> connection_;
  };

  PgConnectionPool(std::string conninfo, size_t size);
  ~PgConnectionPool();
  PgConnectionPool(const PgConnectionPool&) = delete;
  PgConnectionPool& operator=(const PgConnectionPool&) = delete;

  // Waits for a free connection (or room to open one); kUnavailable when a
  // new one cannot be opened.
  core::Result<Lease> acquire();

  size_t size() const { return size_; }

 private:
  void give_back(std::unique_ptr<pqxx::connection> connection, bool broken);

  const std::string conninfo_;
  const size_t size_;
  std::mutex mutex_;  // guards the members below
  std::condition_variable returned_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  size_t leased_ = 0;  // connections out, and slots taken by connects in progress
};

}  // namespace vesta::persistence
