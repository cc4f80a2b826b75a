// `lrb migrate`: applies the schema migrations embedded in this binary
// to a database by hand (the broker does it at start), or with
// --dry-run shows which it would apply. A database newer than the binary
// is refused, as the broker refuses it.
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/output.h"
#include "daemon/schema.h"
#include "daemon/sqlite.h"
#include "daemon/sqlite_store.h"

namespace lrb::cli {

namespace {

struct MigrateFlags {
  std::string db;
  bool dry_run = false;
};

int run_migrate(const MigrateFlags& f) {
  std::string path = f.db.empty() ? daemon::default_database_path() : f.db;
  if (f.db.empty()) {
    daemon::ensure_parent_directory(path);
  }
  daemon::SqliteDb db(path, false, 5000);
  int before = daemon::read_schema_version(db);
  auto steps = daemon::migrate(db, path, f.dry_run);
  std::string out;
  for (const auto& step : steps) {
    out += fmt::format("{} {} (version {})\n",
                       f.dry_run ? "would apply" : "applied", step.name,
                       step.version);
  }
  int after = f.dry_run || steps.empty() ? before : steps.back().version;
  out += fmt::format("{}: schema version {}{}\n", path, after,
                     steps.empty() ? " (up to date)" : "");
  print_out(out);
  return 0;
}

void setup(CLI::App& root, Globals& globals) {
  auto* cmd = root.add_subcommand(
      "migrate", "Apply the database schema migrations this lrb carries");
  auto f = std::make_shared<MigrateFlags>();
  cmd->add_option("--db", f->db,
                  "SQLite database (default $XDG_STATE_HOME/lrb/lrb.db)")
      ->type_name("PATH");
  cmd->add_flag("--dry-run", f->dry_run,
                "Print the migrations that would be applied; change nothing");
  cmd->callback(
      [f, &globals] { globals.action = [f] { return run_migrate(*f); }; });
}

const VerbRegistrar k_registrar({"migrate", 730, setup});

} // namespace

} // namespace lrb::cli
