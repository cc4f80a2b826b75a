// `lrb activate`, `lrb renew` and `lrb release`: the steps of a
// reservation's life after `reserve`, for operators and for requester
// hooks that confirm by hand. Each is one POST; the broker decides
// whether the step is allowed, and a step on a finished reservation
// comes back as a conflict (exit 4) with both phases named, so a script
// that releases twice learns it did. The answer is the reservation as it
// now stands, printed in any -o format.
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/broker_client.h"
#include "cli/output.h"
#include "cli/reserve.h"
#include "core/duration.h"
#include "core/error.h"
#include "core/json.h"
#include "core/resources.h"

namespace lrb::cli {

namespace {

constexpr std::initializer_list<Format> k_formats = {
    Format::table, Format::wide, Format::json, Format::yaml, Format::name};

// The result of a step, as a person reads it.
std::string step_message(const core::Reservation& r, std::string_view done,
                         core::WallMs now) {
  std::string line = fmt::format("reservation {} {}", r.id, done);
  if (done == "activated" && !r.granted.empty()) {
    line +=
        fmt::format(" on {}: {}", r.target_cluster_id, human_list(r.granted));
  }
  if (done != "released" && r.status.expires_at) {
    line += fmt::format("; expires {}", human_time(*r.status.expires_at, now));
  }
  return line + "\n";
}

int run_step(const Globals& g, const std::string& id, std::string_view step,
             std::string_view done, const core::Json& body) {
  require_value(id, "ID", fmt::format("usage: lrb {} ID", step));
  const Format format = output_format(g.output, step, k_formats);
  BrokerClient client(g);
  const core::Json j = client.lifecycle(id, step, body);
  const auto r = core::decode_reservation(j);
  if (format == Format::json || format == Format::yaml) {
    print_document(j, format);
  } else if (format == Format::name) {
    print_out(r.id + "\n");
  } else {
    print_out(step_message(r, done, core::system_clock().wall_ms()));
  }
  return 0;
}

CLI::App* add_step(CLI::App& root, const std::string& name,
                   const std::string& what, std::string& id) {
  auto* cmd = root.add_subcommand(name, what);
  cmd->add_option("id", id, "The reservation")
      ->type_name(std::string(k_type_reservation));
  return cmd;
}

struct ReleaseFlags {
  std::string id;
  std::string reason;
};

void setup_release(CLI::App& root, Globals& g) {
  auto f = std::make_shared<ReleaseFlags>();
  auto* cmd = add_step(root, "release",
                       "End a reservation and free its capacity", f->id);
  cmd->add_option("--reason", f->reason, "Why (kept in its status)")
      ->type_name("TEXT");
  cmd->callback([f, &g] {
    g.action = [f, &g] {
      core::Json body = core::Json::object();
      if (!f->reason.empty()) {
        body["reason"] = f->reason;
      }
      return run_step(g, f->id, "release", "released", body);
    };
  });
}

struct ActivateFlags {
  std::string id;
  std::vector<std::string> granted;
};

void setup_activate(CLI::App& root, Globals& g) {
  auto f = std::make_shared<ActivateFlags>();
  auto* cmd =
      add_step(root, "activate",
               "Confirm a reservation is in use (Reserved -> Active)", f->id);
  cmd->add_option("--granted", f->granted,
                  "What was granted, if less than reserved: "
                  "cpu=2,memory=4Gi")
      ->type_name("NAME=QTY,...")
      ->allow_extra_args(false);
  cmd->callback([f, &g] {
    g.action = [f, &g] {
      core::Json body = core::Json::object();
      if (!f->granted.empty()) {
        body["grantedResources"] =
            core::encode_resources(parse_granted(f->granted));
      }
      return run_step(g, f->id, "activate", "activated", body);
    };
  });
}

struct RenewFlags {
  std::string id;
  std::string duration;
};

void setup_renew(CLI::App& root, Globals& g) {
  auto f = std::make_shared<RenewFlags>();
  auto* cmd =
      add_step(root, "renew", "Extend a reservation's lease from now", f->id);
  cmd->add_option("--duration", f->duration,
                  "New lease length from now (1h; required)")
      ->type_name("DURATION")
      ->check(duration_check());
  cmd->callback([f, &g] {
    g.action = [f, &g] {
      require_value(f->duration, "--duration",
                    "give the new lease length, such as --duration 1h");
      const auto ms = core::parse_duration_ms(f->duration, "--duration");
      const core::Json body{{"duration", core::format_duration(ms)}};
      return run_step(g, f->id, "renew", "renewed", body);
    };
  });
}

const VerbRegistrar k_release({"release", 120, setup_release});
const VerbRegistrar k_activate({"activate", 130, setup_activate});
const VerbRegistrar k_renew({"renew", 140, setup_renew});

} // namespace

} // namespace lrb::cli
