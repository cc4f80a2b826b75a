// A thin RAII layer over the SQLite C API, used by the SQLite store and
// the migrator. It exists so that every call's result code is checked in
// one place and turned into core::Error at the module edge: a busy or
// snapshot failure becomes SqliteBusy (the caller retries the whole
// transaction), anything else Error(internal) naming the statement.
// Prepared statements are cached per connection, since the broker runs
// the same few statements thousands of times a second.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace lrb::daemon {

// Raised when SQLite reports SQLITE_BUSY, SQLITE_LOCKED or a stale WAL
// snapshot: the transaction must be rolled back and run again.
class SqliteBusy : public core::Error {
public:
  explicit SqliteBusy(std::string message);
};

// One prepared statement, reset and unbound when it goes back to the
// cache. Column and parameter indexes are 0-based for columns and
// 1-based for parameters, as in the C API.
class SqliteStmt {
public:
  SqliteStmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  SqliteStmt(const SqliteStmt&) = delete;
  SqliteStmt& operator=(const SqliteStmt&) = delete;
  ~SqliteStmt();

  // Binds parameter `i` (1-based); returns *this for chaining.
  SqliteStmt& bind(int i, std::int64_t value);
  SqliteStmt& bind(int i, std::string_view value);
  SqliteStmt& bind(int i, const std::optional<std::int64_t>& value);

  // Steps once; returns true when a row is available.
  bool step();
  // Steps to completion; returns the number of rows changed.
  int run();

  // Returns column `i` of the current row.
  std::int64_t int64(int i) const;
  std::string text(int i) const;
  std::optional<std::int64_t> optional_int64(int i) const;

private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// One connection. Not thread-safe: a connection belongs to one thread
// at a time (the store hands them out).
class SqliteDb {
public:
  // Opens `path`; `read_only` opens without write access (the doctor on
  // a live broker's database). Throws Error(unavailable) naming the path.
  SqliteDb(const std::string& path, bool read_only, int busy_timeout_ms);
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  ~SqliteDb();

  // Runs one or more statements without results.
  void exec(std::string_view sql);
  // Returns the cached statement for `sql`, ready to bind.
  SqliteStmt prepare(const std::string& sql);
  // Returns the integer result of a one-row, one-column query.
  std::int64_t query_int(const std::string& sql);
  // Rolls back the open transaction, if any, ignoring errors: used while
  // unwinding from another failure.
  void rollback_quietly() noexcept;
  // Returns the rowid of the last insert on this connection.
  std::int64_t last_insert_rowid() const;

  // Returns the raw handle (for the few calls this layer lacks).
  sqlite3* handle() const { return db_; }

private:
  struct StmtDeleter {
    void operator()(sqlite3_stmt* stmt) const;
  };
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, StmtDeleter>>
      cache_;
};

// Throws the Error matching SQLite result `rc` (SqliteBusy for busy and
// snapshot codes) with `context` and SQLite's message.
[[noreturn]] void throw_sqlite(sqlite3* db, int rc, std::string_view context);

} // namespace lrb::daemon
