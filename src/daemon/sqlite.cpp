#include "daemon/sqlite.h"

#include <fmt/format.h>
#include <sqlite3.h>

namespace lrb::daemon {

SqliteBusy::SqliteBusy(std::string message)
    : core::Error(core::Code::unavailable, std::move(message), "",
                  "DatabaseBusy") {}

void throw_sqlite(sqlite3* db, int rc, std::string_view context) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string message = fmt::format("sqlite: {}: {}", context, detail);
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    throw SqliteBusy(std::move(message));
  }
  if (primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY ||
      primary == SQLITE_FULL || primary == SQLITE_IOERR) {
    throw core::Error(core::Code::unavailable, std::move(message));
  }
  throw core::Error(core::Code::internal, std::move(message));
}

SqliteStmt::~SqliteStmt() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

SqliteStmt& SqliteStmt::bind(int i, std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, i, value);
  if (rc != SQLITE_OK) {
    throw_sqlite(db_, rc, "bind");
  }
  return *this;
}

SqliteStmt& SqliteStmt::bind(int i, std::string_view value) {
  int rc = sqlite3_bind_text64(stmt_, i, value.data(), value.size(),
                               SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) {
    throw_sqlite(db_, rc, "bind");
  }
  return *this;
}

SqliteStmt& SqliteStmt::bind(int i, const std::optional<std::int64_t>& value) {
  if (value) {
    return bind(i, *value);
  }
  int rc = sqlite3_bind_null(stmt_, i);
  if (rc != SQLITE_OK) {
    throw_sqlite(db_, rc, "bind");
  }
  return *this;
}

bool SqliteStmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  throw_sqlite(db_, rc, sqlite3_sql(stmt_));
}

int SqliteStmt::run() {
  while (step()) {
  }
  return sqlite3_changes(db_);
}

std::int64_t SqliteStmt::int64(int i) const {
  return sqlite3_column_int64(stmt_, i);
}

std::string SqliteStmt::text(int i) const {
  const auto* p = sqlite3_column_text(stmt_, i);
  int n = sqlite3_column_bytes(stmt_, i);
  return p != nullptr ? std::string(reinterpret_cast<const char*>(p),
                                    static_cast<size_t>(n))
                      : std::string();
}

std::optional<std::int64_t> SqliteStmt::optional_int64(int i) const {
  if (sqlite3_column_type(stmt_, i) == SQLITE_NULL) {
    return std::nullopt;
  }
  return sqlite3_column_int64(stmt_, i);
}

void SqliteDb::StmtDeleter::operator()(sqlite3_stmt* stmt) const {
  sqlite3_finalize(stmt);
}

SqliteDb::SqliteDb(const std::string& path, bool read_only,
                   int busy_timeout_ms) {
  // NOMUTEX: each connection is used by one thread at a time, so
  // SQLite's own per-connection mutex would only cost.
  int flags = SQLITE_OPEN_NOMUTEX |
              (read_only ? SQLITE_OPEN_READONLY
                         : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string cause =
        db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    // A missing file opened read-only (the doctor) is the caller's
    // mistake, not an outage.
    auto code = read_only && rc == SQLITE_CANTOPEN ? core::Code::not_found
                                                   : core::Code::unavailable;
    throw core::Error(
        code, fmt::format("cannot open database {}: {}", path, cause), "db");
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, busy_timeout_ms);
}

SqliteDb::~SqliteDb() {
  cache_.clear();
  sqlite3_close(db_);
}

void SqliteDb::exec(std::string_view sql) {
  std::string text(sql);
  char* error = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    sqlite3_free(error);
    throw_sqlite(db_, rc, text.size() > 60 ? text.substr(0, 60) + "..." : text);
  }
}

SqliteStmt SqliteDb::prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      throw_sqlite(db_, rc, sql);
    }
    it = cache_.emplace(sql, std::unique_ptr<sqlite3_stmt, StmtDeleter>(stmt))
             .first;
  }
  return SqliteStmt(db_, it->second.get());
}

std::int64_t SqliteDb::query_int(const std::string& sql) {
  auto stmt = prepare(sql);
  if (!stmt.step()) {
    throw core::Error(core::Code::internal,
                      fmt::format("sqlite: no row from {}", sql));
  }
  return stmt.int64(0);
}

void SqliteDb::rollback_quietly() noexcept {
  if (sqlite3_get_autocommit(db_) == 0) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

std::int64_t SqliteDb::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

} // namespace lrb::daemon
