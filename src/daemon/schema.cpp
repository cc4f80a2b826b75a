#include "daemon/schema.h"

#include <fmt/format.h>

#include "core/error.h"
#include "daemon/migrations.h"

namespace lrb::daemon {

int read_schema_version(SqliteDb& db) {
  return static_cast<int>(db.query_int("PRAGMA user_version"));
}

int latest_schema_version() {
  const auto& all = embedded_migrations();
  return all.empty() ? 0 : all.back().version;
}

void check_not_newer(SqliteDb& db, const std::string& path) {
  int found = read_schema_version(db);
  int known = latest_schema_version();
  if (found > known) {
    throw core::Error(
        core::Code::unprocessable,
        fmt::format("database {} has schema version {}, newer than this lrb "
                    "knows ({}): run a newer lrb, or restore a backup",
                    path, found, known),
        "db", "SchemaTooNew");
  }
}

namespace {

std::vector<MigrationStep> pending_steps(int current) {
  std::vector<MigrationStep> steps;
  for (const auto& m : embedded_migrations()) {
    if (m.version > current) {
      steps.push_back({m.version, std::string(m.name)});
    }
  }
  return steps;
}

void apply_steps(SqliteDb& db, const std::vector<MigrationStep>& steps) {
  for (const auto& step : steps) {
    for (const auto& m : embedded_migrations()) {
      if (m.version == step.version) {
        db.exec(m.sql);
      }
    }
  }
  // PRAGMA takes no parameters; the value is our own integer.
  db.exec(fmt::format("PRAGMA user_version = {}", steps.back().version));
}

} // namespace

std::vector<MigrationStep> migrate(SqliteDb& db, const std::string& path,
                                   bool dry_run) {
  check_not_newer(db, path);
  auto steps = pending_steps(read_schema_version(db));
  if (dry_run || steps.empty()) {
    return steps;
  }

  // Re-read under the write lock: another process may have migrated
  // between our first look and BEGIN IMMEDIATE.
  db.exec("BEGIN IMMEDIATE");
  try {
    check_not_newer(db, path);
    steps = pending_steps(read_schema_version(db));
    if (!steps.empty()) {
      apply_steps(db, steps);
    }
    db.exec("COMMIT");
  } catch (...) {
    db.rollback_quietly();
    throw;
  }
  return steps;
}

} // namespace lrb::daemon
