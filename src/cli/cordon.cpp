// `lrb cordon` and `lrb uncordon`: keep a cluster out of selection (for
// maintenance, a bad agent, a price spike) and let it back in, as
// kubectl does with nodes. Reservations already placed there are not
// touched; only new decisions skip it.
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/broker_client.h"
#include "cli/output.h"
#include "core/json.h"

namespace lrb::cli {

namespace {

int run_cordon(const Globals& g, const std::string& id, bool cordon) {
  const std::string_view verb = cordon ? "cordon" : "uncordon";
  require_value(id, "CLUSTER", fmt::format("usage: lrb {} CLUSTER", verb));
  const Format format = output_format(
      g.output, verb,
      {Format::table, Format::wide, Format::json, Format::yaml, Format::name});
  BrokerClient client(g);
  const core::Json answer = client.cordon(id, cordon);
  if (format == Format::json || format == Format::yaml) {
    // The broker answers with the cluster; show it as it now stands.
    print_document(answer.contains("clusterID") ? answer : client.cluster(id),
                   format);
  } else if (format == Format::name) {
    print_out(id + "\n");
  } else {
    print_out(
        fmt::format("cluster {} {}\n", id, cordon ? "cordoned" : "uncordoned"));
  }
  return 0;
}

void add(CLI::App& root, Globals& g, bool cordon) {
  auto id = std::make_shared<std::string>();
  auto* cmd = root.add_subcommand(
      cordon ? "cordon" : "uncordon",
      cordon ? "Keep a cluster out of new reservations"
             : "Let a cordoned cluster take reservations again");
  cmd->add_option("cluster", *id, "The cluster")
      ->type_name(std::string(k_type_cluster));
  cmd->callback([id, &g, cordon] {
    g.action = [id, &g, cordon] { return run_cordon(g, *id, cordon); };
  });
}

void setup_cordon(CLI::App& root, Globals& g) {
  add(root, g, true);
}
void setup_uncordon(CLI::App& root, Globals& g) {
  add(root, g, false);
}

const VerbRegistrar k_cordon({"cordon", 400, setup_cordon});
const VerbRegistrar k_uncordon({"uncordon", 410, setup_uncordon});

} // namespace

} // namespace lrb::cli
