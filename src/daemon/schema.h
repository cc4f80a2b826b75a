// Schema migrations for the SQLite store. The binary carries its
// migrations (migrations/NNNN_name.sql, embedded at build time) and the
// database records the last one applied in PRAGMA user_version, so a
// broker upgrades its database at start, a database is never touched by
// a binary older than it, and `lrb migrate` can show what it would do.
#pragma once

#include <string>
#include <vector>

#include "daemon/sqlite.h"

namespace lrb::daemon {

// One migration applied (or, in a dry run, pending).
struct MigrationStep {
  int version = 0;
  std::string name;
};

// Returns the schema version recorded in the database (0 when new).
int read_schema_version(SqliteDb& db);

// Returns the highest schema version this binary knows.
int latest_schema_version();

// Throws Error(unprocessable) naming the path when the database was
// written by a newer lrb than this one.
void check_not_newer(SqliteDb& db, const std::string& path);

// Applies every pending migration in order inside one BEGIN IMMEDIATE
// transaction, setting user_version at its end, and returns the steps;
// with `dry_run` only returns them. Throws like check_not_newer.
std::vector<MigrationStep> migrate(SqliteDb& db, const std::string& path,
                                   bool dry_run);

} // namespace lrb::daemon
