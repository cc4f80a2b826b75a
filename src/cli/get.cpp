// `lrb get clusters|reservations [ID]`: lists as kubectl lists them. The
// kinds are subcommands (with the singular and short names as aliases)
// so that completion and --help know each kind's own flags. Tables show
// what an operator scans for — state, free capacity, phase, time left —
// in human units; -o json and -o yaml print the broker's own documents
// so that scripts see exact quantities. --watch prints the list, then a
// row for every object that changes, driven by the event log.
#include <map>
#include <memory>
#include <set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/broker_client.h"
#include "cli/events.h"
#include "cli/output.h"
#include "core/error.h"
#include "core/json.h"
#include "core/lifecycle.h"

namespace lrb::cli {

namespace {

using core::Code;
using core::Error;

struct GetFlags {
  std::string id;
  bool watch = false;
  ReservationFilter filter;
};

constexpr std::initializer_list<Format> k_all_formats = {
    Format::table, Format::wide, Format::json, Format::yaml, Format::name};

std::string or_dash(const std::string& s) {
  return s.empty() ? "-" : s;
}

// Prints one object of a --watch stream: a row, a JSON line, a YAML
// document or a name.
void print_watched(const core::Json& j, const std::string& id,
                   const std::function<Table()>& table, Format format,
                   std::vector<std::size_t>& widths) {
  if (format == Format::json) {
    print_out(j.dump() + "\n");
  } else if (format == Format::yaml) {
    print_out("---\n" + to_yaml(j));
  } else if (format == Format::name) {
    print_out(id + "\n");
  } else {
    Table t = table();
    t.set_min_widths(widths);
    print_out(t.render(false));
    widths = t.widths();
  }
}

// ----- clusters -------------------------------------------------------

std::string gpu_models(const core::Cluster& c) {
  std::string out;
  for (const auto& [model, count] : c.ad.gpu_models) {
    out += fmt::format("{}{}={}", out.empty() ? "" : ",", model, count);
  }
  return or_dash(out);
}

// Returns the amounts that are not zero ("-" when none is): a wide row
// should not list every resource a cluster has nothing reserved of.
std::string nonzero(const core::ResourceList& list) {
  core::ResourceList out;
  list.for_each([&out](std::string_view name, std::int64_t value) {
    if (value != 0) {
      out.set(name, value);
    }
  });
  return human_list(out);
}

std::string labels_of(const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto& [key, value] : labels) {
    out += fmt::format("{}{}={}", out.empty() ? "" : ",", key, value);
  }
  return or_dash(out);
}

Table cluster_table(bool wide) {
  std::vector<std::string> headers = {
      "NAME",           "STATE",          "REGION",   "CPU FREE/ALLOC",
      "MEM FREE/ALLOC", "GPU FREE/ALLOC", "LAST SEEN"};
  if (wide) {
    headers.insert(headers.end(), {"RESERVED", "GPU MODELS", "CPU/H", "GIB/H",
                                   "ENDPOINT", "LABELS"});
  }
  return Table(headers);
}

void add_cluster_row(Table& t, const core::Cluster& c, bool wide, bool color,
                     core::WallMs now) {
  const auto& alloc = c.ad.resources.allocatable;
  const std::string state(core::cluster_state_name(c.state));
  std::vector<std::string> row = {
      c.ad.cluster_id,
      paint(state, color_of_phase(state), color),
      or_dash(c.ad.region),
      human_pair("cpu", c.free.get("cpu"), alloc.get("cpu")),
      human_pair("memory", c.free.get("memory"), alloc.get("memory")),
      fmt::format("{}/{}", c.free.get("gpu"), alloc.get("gpu")),
      age_since(c.last_seen, now)};
  if (wide) {
    const auto& p = c.ad.prices;
    row.insert(row.end(),
               {nonzero(c.reserved), gpu_models(c),
                p ? fmt::format("{:g}", p->cpu_per_hour) : "-",
                p ? fmt::format("{:g}", p->memory_gib_per_hour) : "-",
                or_dash(c.ad.endpoint), labels_of(c.ad.labels)});
  }
  t.add_row(std::move(row));
}

Table clusters_as_table(const std::vector<core::Cluster>& clusters, bool wide,
                        bool color) {
  Table t = cluster_table(wide);
  const auto now = core::system_clock().wall_ms();
  for (const auto& c : clusters) {
    add_cluster_row(t, c, wide, color, now);
  }
  return t;
}

std::vector<core::Json> items_of(const core::Json& list) {
  const auto it = list.find("items");
  if (it == list.end() || !it->is_array()) {
    throw Error(Code::internal, "the broker's list has no \"items\" array");
  }
  return {it->begin(), it->end()};
}

// Prints a list (or one object) and returns the ids and versions shown.
std::map<std::string, std::int64_t>
print_clusters(const core::Json& answer, bool single, Format format, bool color,
               std::vector<std::size_t>& widths) {
  const auto items =
      single ? std::vector<core::Json>{answer} : items_of(answer);
  std::vector<core::Cluster> clusters;
  std::map<std::string, std::int64_t> shown;
  for (const auto& j : items) {
    clusters.push_back(core::decode_cluster(j));
    shown[clusters.back().ad.cluster_id] = clusters.back().version;
  }
  if (format == Format::json || format == Format::yaml) {
    print_document(answer, format);
  } else if (format == Format::name) {
    for (const auto& c : clusters) {
      print_out(c.ad.cluster_id + "\n");
    }
  } else {
    Table t = clusters_as_table(clusters, format == Format::wide, color);
    print_out(t.render());
    widths = t.widths();
  }
  return shown;
}

// Refetches the clusters an event page mentions and prints those whose
// version moved.
void watch_clusters(BrokerClient& client, std::int64_t since, const GetFlags& f,
                    Format format, bool color,
                    std::map<std::string, std::int64_t> shown,
                    std::vector<std::size_t> widths) {
  follow_events(client, since, f.id, [&](const core::Json& events) {
    std::set<std::string> ids;
    for (const auto& e : events) {
      const std::string id = e.value("clusterID", "");
      if (!id.empty() && (f.id.empty() || id == f.id)) {
        ids.insert(id);
      }
    }
    for (const auto& id : ids) {
      const core::Json j = client.cluster(id);
      const auto c = core::decode_cluster(j);
      if (shown.count(id) != 0 && shown[id] == c.version) {
        continue;
      }
      shown[id] = c.version;
      print_watched(
          j, id,
          [&] { return clusters_as_table({c}, format == Format::wide, color); },
          format, widths);
    }
  });
}

int run_clusters(const GetFlags& f, const Globals& g) {
  const Format format = output_format(g.output, "get clusters", k_all_formats);
  BrokerClient client(g);
  const bool single = !f.id.empty();
  std::vector<std::size_t> widths;
  // The watch starts at the log's head before listing, so no change
  // between the list and the watch is missed.
  const std::int64_t since = f.watch ? head_seq(client) : 0;
  const core::Json answer = single ? client.cluster(f.id) : client.clusters();
  auto shown = print_clusters(answer, single, format, g.color, widths);
  if (f.watch) {
    watch_clusters(client, since, f, format, g.color, std::move(shown), widths);
  }
  return 0;
}

// ----- reservations ---------------------------------------------------

Table reservation_table(bool wide) {
  std::vector<std::string> headers = {"ID",    "REQUESTER", "TARGET",
                                      "PHASE", "CPU",       "MEMORY",
                                      "GPU",   "EXPIRES",   "AGE"};
  if (wide) {
    headers.insert(headers.end(),
                   {"PRIORITY", "SCORE", "PRICE/H", "GRANTED", "REASON"});
  }
  return Table(headers);
}

std::string expires_cell(const core::Reservation& r, core::WallMs now) {
  if (!core::holds_capacity(r.status.phase) || !r.status.expires_at) {
    return "-";
  }
  return "in " + human_age(*r.status.expires_at - now);
}

const core::DecisionRow* row_of(const core::Reservation& r) {
  for (const auto& row : r.decision.rows) {
    if (row.cluster_id == r.target_cluster_id && row.candidate) {
      return &row;
    }
  }
  return nullptr;
}

void add_reservation_row(Table& t, const core::Reservation& r, bool wide,
                         bool color, core::WallMs now) {
  const auto& req = r.request.requested;
  const std::string phase(core::phase_name(r.status.phase));
  std::vector<std::string> row = {r.id,
                                  r.request.requester_id,
                                  or_dash(r.target_cluster_id),
                                  paint(phase, color_of_phase(phase), color),
                                  human_cpu(req.get("cpu")),
                                  human_bytes(req.get("memory")),
                                  fmt::format("{}", req.get("gpu")),
                                  expires_cell(r, now),
                                  age_since(r.created_at, now)};
  if (wide) {
    const auto* d = row_of(r);
    row.insert(row.end(),
               {fmt::format("{}", r.request.priority),
                d != nullptr ? human_score(d->score) : "-",
                human_price(d != nullptr ? d->price_per_hour : std::nullopt),
                human_list(r.granted), or_dash(r.status.reason)});
  }
  t.add_row(std::move(row));
}

Table reservations_as_table(const std::vector<core::Reservation>& list,
                            bool wide, bool color) {
  Table t = reservation_table(wide);
  const auto now = core::system_clock().wall_ms();
  for (const auto& r : list) {
    add_reservation_row(t, r, wide, color, now);
  }
  return t;
}

std::map<std::string, std::int64_t>
print_reservations(const core::Json& answer, bool single, Format format,
                   bool color, std::vector<std::size_t>& widths) {
  const auto items =
      single ? std::vector<core::Json>{answer} : items_of(answer);
  std::vector<core::Reservation> list;
  std::map<std::string, std::int64_t> shown;
  for (const auto& j : items) {
    list.push_back(core::decode_reservation(j));
    shown[list.back().id] = list.back().version;
  }
  if (format == Format::json || format == Format::yaml) {
    print_document(answer, format);
  } else if (format == Format::name) {
    for (const auto& r : list) {
      print_out(r.id + "\n");
    }
  } else {
    Table t = reservations_as_table(list, format == Format::wide, color);
    print_out(t.render());
    widths = t.widths();
  }
  return shown;
}

// Returns whether a reservation passes the list's filters (a watch sees
// every event and must filter as the broker's list did).
bool matches(const core::Reservation& r, const GetFlags& f) {
  if (!f.id.empty()) {
    return r.id == f.id;
  }
  const auto& q = f.filter;
  if (!q.requester.empty() && r.request.requester_id != q.requester) {
    return false;
  }
  if (!q.provider.empty() && r.target_cluster_id != q.provider) {
    return false;
  }
  if (q.phase.empty()) {
    return true;
  }
  const std::string phase(core::phase_name(r.status.phase));
  return fmt::format(",{},", q.phase).find(fmt::format(",{},", phase)) !=
         std::string::npos;
}

void watch_reservations(BrokerClient& client, std::int64_t since,
                        const GetFlags& f, Format format, bool color,
                        std::map<std::string, std::int64_t> shown,
                        std::vector<std::size_t> widths) {
  follow_events(client, since, "", [&](const core::Json& events) {
    for (const auto& e : events) {
      const std::string id = e.value("reservationID", "");
      if (id.empty()) {
        continue;
      }
      const core::Json j =
          e.contains("reservation") ? e["reservation"] : client.reservation(id);
      const auto r = core::decode_reservation(j);
      if (!matches(r, f) || (shown.count(id) != 0 && shown[id] >= r.version)) {
        continue;
      }
      shown[id] = r.version;
      print_watched(
          j, id,
          [&] {
            return reservations_as_table({r}, format == Format::wide, color);
          },
          format, widths);
    }
  });
}

void check_phases(const std::string& phases) {
  std::string rest = phases;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    core::parse_phase(rest.substr(0, comma), "--phase");
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
  }
}

int run_reservations(const GetFlags& f, const Globals& g) {
  const Format format =
      output_format(g.output, "get reservations", k_all_formats);
  check_phases(f.filter.phase);
  const bool single = !f.id.empty();
  const auto& q = f.filter;
  if (single &&
      !(q.requester.empty() && q.provider.empty() && q.phase.empty())) {
    throw Error(Code::invalid_argument,
                "--requester, --provider and --phase filter lists: drop them "
                "or the reservation ID",
                "--phase");
  }
  BrokerClient client(g);
  std::vector<std::size_t> widths;
  const std::int64_t since = f.watch ? head_seq(client) : 0;
  const core::Json answer =
      single ? client.reservation(f.id) : client.reservations(f.filter);
  auto shown = print_reservations(answer, single, format, g.color, widths);
  if (f.watch) {
    watch_reservations(client, since, f, format, g.color, std::move(shown),
                       widths);
  }
  return 0;
}

// ----- setup ----------------------------------------------------------

CLI::App* add_kind(CLI::App& get, const std::string& name,
                   const std::string& singular, const std::string& short_name,
                   const std::string& what, std::string_view id_type,
                   GetFlags& flags) {
  auto* cmd = get.add_subcommand(name, "List " + what);
  cmd->alias(singular);
  cmd->alias(short_name);
  cmd->add_option("id", flags.id, "Show only this one")
      ->type_name(std::string(id_type));
  cmd->add_flag("-w,--watch", flags.watch,
                "After listing, print each change as it happens");
  return cmd;
}

void setup(CLI::App& root, Globals& globals) {
  auto* get = root.add_subcommand("get", "List clusters or reservations");
  get->require_subcommand(1);

  auto cl = std::make_shared<GetFlags>();
  auto* clusters = add_kind(*get, "clusters", "cluster", "cl", "clusters",
                            k_type_cluster, *cl);
  clusters->callback([cl, &globals] {
    globals.action = [cl, &globals] { return run_clusters(*cl, globals); };
  });

  auto res = std::make_shared<GetFlags>();
  auto* reservations = add_kind(*get, "reservations", "reservation", "res",
                                "reservations", k_type_reservation, *res);
  reservations
      ->add_option("--requester", res->filter.requester,
                   "Only reservations requested by this cluster")
      ->type_name(std::string(k_type_cluster));
  reservations
      ->add_option("--provider", res->filter.provider,
                   "Only reservations placed on this cluster")
      ->type_name(std::string(k_type_cluster));
  reservations
      ->add_option("--phase", res->filter.phase,
                   "Only these phases (comma-separated: Reserved,Active)")
      ->type_name("PHASE");
  reservations->callback([res, &globals] {
    globals.action = [res, &globals] {
      return run_reservations(*res, globals);
    };
  });
}

const VerbRegistrar k_registrar({"get", 200, setup});

} // namespace

} // namespace lrb::cli
