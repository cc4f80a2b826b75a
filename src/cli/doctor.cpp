// `lrb doctor`: checks a broker database against the invariant of
// DESIGN.md section 7 and its referential sanity, read-only, so it is
// safe beside a running broker. Exit 0 when clean, 1 when anything is
// wrong; warnings (an overcommitted provider) do not fail it.
#include "daemon/doctor.h"

#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/output.h"
#include "daemon/sqlite_store.h"

namespace lrb::cli {

namespace {

struct DoctorFlags {
  std::string db;
};

void print_text(const daemon::DoctorReport& report, const std::string& db) {
  std::string out;
  for (const auto& f : report.findings) {
    out += fmt::format("{}: {}: {}\n", f.error ? "error" : "warning", f.object,
                       f.message);
  }
  std::size_t errors = 0;
  for (const auto& f : report.findings) {
    errors += f.error ? 1 : 0;
  }
  out += fmt::format("{}: {} clusters, {} reservations ({} holding "
                     "capacity), schema {}: {}\n",
                     db, report.clusters, report.reservations, report.holding,
                     report.schema_version,
                     errors == 0 ? "ok"
                                 : fmt::format("{} problem{}", errors,
                                               errors == 1 ? "" : "s"));
  print_out(out);
}

int run_doctor(const DoctorFlags& f, const Globals& g) {
  std::string db = f.db.empty() ? daemon::default_database_path() : f.db;
  auto store = daemon::open_sqlite_store(
      {.path = db, .read_only = true, .migrate = false, .readers = 1});
  auto report = daemon::check_store(*store);
  if (g.output == "json") {
    print_out(daemon::encode_report(report).dump(2) + "\n");
  } else {
    print_text(report, db);
  }
  return report.clean() ? 0 : 1;
}

void setup(CLI::App& root, Globals& globals) {
  auto* cmd = root.add_subcommand(
      "doctor", "Check a broker database: reserved totals against the "
                "reservations, and references between rows");
  auto f = std::make_shared<DoctorFlags>();
  cmd->add_option("--db", f->db,
                  "SQLite database (default $XDG_STATE_HOME/lrb/lrb.db)")
      ->type_name("PATH");
  cmd->callback([f, &globals] {
    globals.action = [f, &globals] { return run_doctor(*f, globals); };
  });
}

const VerbRegistrar k_registrar({"doctor", 720, setup});

} // namespace

} // namespace lrb::cli
