// The SQLite implementation of Store: one file in WAL mode, one writer
// connection (writers are serialized in-process by a mutex and across
// processes by BEGIN IMMEDIATE) and a small pool of reader connections
// that see consistent snapshots without blocking the writer.
#pragma once

#include <memory>
#include <string>

#include "daemon/store.h"

namespace lrb::daemon {

// How to open a SQLite store.
struct SqliteStoreOptions {
  std::string path;
  // Open without write access (the doctor beside a live broker): no
  // writer connection, no migrations; write transactions are refused.
  bool read_only = false;
  // Apply pending migrations at open (otherwise an old schema is an
  // error naming `lrb migrate`).
  bool migrate = true;
  int busy_timeout_ms = 5000;
  int readers = 4;
  // Attempts of a transaction that keeps meeting busy errors.
  int max_attempts = 8;
};

// Opens (creating when allowed) the database, checks and migrates its
// schema, and returns the store. Throws Error(unavailable) when the file
// cannot be opened, Error(unprocessable) when its schema is newer than
// this binary or older and `migrate` is off.
std::unique_ptr<Store> open_sqlite_store(const SqliteStoreOptions& options);

// Returns where the database lives when no --db is given:
// $XDG_STATE_HOME/lrb/lrb.db, else $HOME/.local/state/lrb/lrb.db, else
// ./lrb.db.
std::string default_database_path();

// Creates the directory that will hold `path` when it is missing; throws
// Error(unavailable) naming the directory when that fails.
void ensure_parent_directory(const std::string& path);

} // namespace lrb::daemon
