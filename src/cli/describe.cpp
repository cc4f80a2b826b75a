// `lrb describe cluster|reservation ID`: everything a person needs about
// one object on one screen, where `get` shows one line. Labels are
// aligned as kubectl aligns them; quantities are in human units; every
// timestamp carries its age so that "is this stale?" and "when does it
// expire?" need no arithmetic. A cluster's page also lists the
// reservations it holds, and a reservation's page its whole decision.
#include <memory>
#include <utility>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/broker_client.h"
#include "cli/output.h"
#include "core/duration.h"
#include "core/error.h"
#include "core/json.h"

namespace lrb::cli {

namespace {

using Field = std::pair<std::string, std::string>;

constexpr std::initializer_list<Format> k_formats = {
    Format::table, Format::wide, Format::json, Format::yaml, Format::name};

// Returns "Label:" lines with the values aligned in one column.
std::string render_fields(const std::vector<Field>& fields,
                          std::string_view indent = "") {
  std::size_t width = 0;
  for (const auto& [label, value] : fields) {
    width = std::max(width, label.size() + 1);
  }
  std::string out;
  for (const auto& [label, value] : fields) {
    out += fmt::format("{}{:<{}}  {}\n", indent, label + ":", width, value);
  }
  return out;
}

// Indents every line of `text`.
std::string indented(const std::string& text, std::string_view indent) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    out += fmt::format("{}{}\n", indent, text.substr(start, end - start));
    start = end == std::string::npos ? text.size() : end + 1;
  }
  return out;
}

std::string or_none(const std::string& s) {
  return s.empty() ? "<none>" : s;
}

std::string when(const std::optional<core::WallMs>& t, core::WallMs now) {
  return t ? human_time(*t, now) : "-";
}

// ----- cluster --------------------------------------------------------

std::string resources_table(const core::Cluster& c) {
  const auto& r = c.ad.resources;
  Table t({"RESOURCE", "CAPACITY", "ALLOCATABLE", "ALLOCATED", "AVAILABLE",
           "RESERVED", "FREE", "LARGEST NODE"});
  // Every resource any column mentions, in canonical order.
  core::ResourceList names;
  for (const auto* list : {&r.capacity, &r.allocatable, &r.available}) {
    list->for_each(
        [&names](std::string_view name, std::int64_t) { names.set(name, 0); });
  }
  for (const auto& name : names.names()) {
    auto cell = [&name](const core::ResourceList& l) {
      return human_resource(name, l.get(name));
    };
    t.add_row({name, cell(r.capacity), cell(r.allocatable), cell(r.allocated),
               cell(r.available), cell(c.reserved), cell(c.free),
               cell(r.largest_node_available)});
  }
  return t.render();
}

std::string prices_text(const core::Cluster& c) {
  if (!c.ad.prices) {
    return "  <none>: the cluster advertises no prices, so its cost score "
           "is 0\n";
  }
  const auto& p = *c.ad.prices;
  std::vector<Field> fields = {
      {"cpu", fmt::format("{:g} {} per core-hour", p.cpu_per_hour, p.currency)},
      {"memory",
       fmt::format("{:g} {} per GiB-hour", p.memory_gib_per_hour, p.currency)}};
  if (p.storage_gib_per_hour > 0) {
    fields.emplace_back("storage",
                        fmt::format("{:g} {} per GiB-hour",
                                    p.storage_gib_per_hour, p.currency));
  }
  for (const auto& [model, price] : p.gpu_per_hour) {
    fields.emplace_back("gpu " + model,
                        fmt::format("{:g} {} per GPU-hour", price, p.currency));
  }
  return render_fields(fields, "  ");
}

std::string held_table(const core::Json& list, core::WallMs now) {
  Table t({"ID", "REQUESTER", "PHASE", "GRANTED", "EXPIRES"});
  for (const auto& j : list.value("items", core::Json::array())) {
    const auto r = core::decode_reservation(j);
    t.add_row({r.id, r.request.requester_id,
               std::string(core::phase_name(r.status.phase)),
               human_list(r.granted), when(r.status.expires_at, now)});
  }
  return t.size() == 0 ? "  <none>\n" : indented(t.render(), "  ");
}

std::string describe_cluster(const core::Cluster& c, const core::Json& held,
                             bool color) {
  const auto now = core::system_clock().wall_ms();
  const std::string state(core::cluster_state_name(c.state));
  std::string labels;
  for (const auto& [k, v] : c.ad.labels) {
    labels += fmt::format("{}{}={}", labels.empty() ? "" : ", ", k, v);
  }
  std::string out = render_fields({
      {"Name", c.ad.cluster_id},
      {"Display name", or_none(c.ad.cluster_name)},
      {"State", paint(state, color_of_phase(state), color)},
      {"Region", or_none(c.ad.region)},
      {"Endpoint", or_none(c.ad.endpoint)},
      {"Labels", or_none(labels)},
      {"Last seen", c.last_seen ? human_time(c.last_seen, now) : "never"},
      {"Agent time", c.ad.timestamp ? human_time(c.ad.timestamp, now) : "-"},
      {"Generation", fmt::format("{}", c.ad.generation)},
      {"Version", fmt::format("{}", c.version)},
  });
  out += "Resources:\n" + indented(resources_table(c), "  ");
  out += "GPU models:\n";
  std::vector<Field> models;
  for (const auto& [model, count] : c.ad.gpu_models) {
    models.emplace_back(model, fmt::format("{} GPU", count));
  }
  out += models.empty() ? "  <none>\n" : render_fields(models, "  ");
  out += "Prices:\n" + prices_text(c);
  out += "Consumed by reservations (already running here):\n";
  std::vector<Field> consumed;
  for (const auto& [id, list] : c.ad.consumed) {
    consumed.emplace_back(id, human_list(list));
  }
  out += consumed.empty() ? "  <none>\n" : render_fields(consumed, "  ");
  out += "Reservations held here (Reserved, Active):\n" + held_table(held, now);
  return out;
}

int run_cluster(const std::string& id, const Globals& g) {
  const Format format = output_format(g.output, "describe cluster", k_formats);
  BrokerClient client(g);
  const core::Json j = client.cluster(id);
  const auto c = core::decode_cluster(j);
  if (format == Format::json || format == Format::yaml) {
    print_document(j, format);
  } else if (format == Format::name) {
    print_out(c.ad.cluster_id + "\n");
  } else {
    ReservationFilter held;
    held.provider = c.ad.cluster_id;
    held.phase = "Reserved,Active";
    print_out(describe_cluster(c, client.reservations(held), g.color));
  }
  return 0;
}

// ----- reservation ----------------------------------------------------

std::string constraints_text(const core::Constraints& c) {
  std::vector<std::string> parts;
  if (!c.gpu_model.empty()) {
    parts.push_back("gpu model " + c.gpu_model);
  }
  if (!c.regions.empty()) {
    parts.push_back(fmt::format("regions {}", fmt::join(c.regions, ",")));
  }
  for (const auto& [k, v] : c.labels) {
    parts.push_back(fmt::format("label {}={}", k, v));
  }
  if (c.max_price_per_hour) {
    parts.push_back(
        fmt::format("max price {}/h", human_price(c.max_price_per_hour)));
  }
  return parts.empty() ? "<none>" : fmt::format("{}", fmt::join(parts, "; "));
}

std::string history_text(const core::Reservation& r, core::WallMs now) {
  const auto& s = r.status;
  std::vector<Field> fields = {
      {"Created", r.created_at ? human_time(r.created_at, now) : "-"},
      {"Reserved", when(s.reserved_at, now)},
      {"Activation deadline", when(s.activation_deadline, now)},
      {"Activated", when(s.activated_at, now)},
      {"Expires", when(s.expires_at, now)},
      {"Ended", when(s.ended_at, now)},
  };
  return render_fields(fields, "  ");
}

std::string describe_reservation(const core::Reservation& r, bool color) {
  const auto now = core::system_clock().wall_ms();
  const auto& q = r.request;
  const std::string phase(core::phase_name(r.status.phase));
  std::string target = or_none(r.target_cluster_id);
  if (!r.target_endpoint.empty()) {
    target += fmt::format(" ({})", r.target_endpoint);
  }
  std::vector<Field> fields = {
      {"ID", r.id},
      {"Requester", q.requester_id},
      {"Target", target},
      {"Phase", paint(phase, color_of_phase(phase), color)},
      {"Reason", or_none(r.status.reason)},
      {"Message", or_none(r.status.message)},
      {"Priority", fmt::format("{}", q.priority)},
      {"Duration",
       q.duration_ms ? core::format_duration(*q.duration_ms) : "<default>"},
      {"Requested", human_list(q.requested)},
      {"Granted", r.granted.empty() ? "<none>" : human_list(r.granted)},
      {"Constraints", constraints_text(q.constraints)},
      {"Asked target", or_none(q.target_cluster_id)},
      {"Idempotency key", or_none(r.idempotency_key)},
      {"Version", fmt::format("{}", r.version)},
  };
  std::string out = render_fields(fields);
  out += "History:\n" + history_text(r, now);
  out += "Decision:\n  " + decision_summary(r.decision) + "\n";
  if (!r.decision.rows.empty()) {
    out += indented(render_decision(r.decision, color), "  ");
  }
  return out;
}

int run_reservation(const std::string& id, const Globals& g) {
  const Format format =
      output_format(g.output, "describe reservation", k_formats);
  BrokerClient client(g);
  const core::Json j = client.reservation(id);
  const auto r = core::decode_reservation(j);
  if (format == Format::json || format == Format::yaml) {
    print_document(j, format);
  } else if (format == Format::name) {
    print_out(r.id + "\n");
  } else {
    print_out(describe_reservation(r, g.color));
  }
  return 0;
}

void setup(CLI::App& root, Globals& globals) {
  auto* cmd = root.add_subcommand(
      "describe", "Show everything about one cluster or reservation");
  cmd->require_subcommand(1);

  auto cluster_id = std::make_shared<std::string>();
  auto* cl = cmd->add_subcommand("cluster", "Describe a cluster");
  cl->alias("clusters");
  cl->alias("cl");
  cl->add_option("id", *cluster_id, "The cluster")
      ->type_name(std::string(k_type_cluster));
  cl->callback([cluster_id, &globals] {
    globals.action = [cluster_id, &globals] {
      require_value(*cluster_id, "ID", "usage: lrb describe cluster ID");
      return run_cluster(*cluster_id, globals);
    };
  });

  auto reservation_id = std::make_shared<std::string>();
  auto* res = cmd->add_subcommand("reservation", "Describe a reservation");
  res->alias("reservations");
  res->alias("res");
  res->add_option("id", *reservation_id, "The reservation")
      ->type_name(std::string(k_type_reservation));
  res->callback([reservation_id, &globals] {
    globals.action = [reservation_id, &globals] {
      require_value(*reservation_id, "ID",
                    "usage: lrb describe reservation ID");
      return run_reservation(*reservation_id, globals);
    };
  });
}

const VerbRegistrar k_registrar({"describe", 210, setup});

} // namespace

} // namespace lrb::cli
