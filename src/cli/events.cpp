// `lrb events`: the broker's event log, for an operator asking "what
// happened" and for scripts that react to changes. The log is read
// through the watch endpoint in pages: without --follow every retained
// event is read with a zero wait and the verb ends; with --follow the
// last page is held open by the broker until something happens, so a
// follower costs one parked request, not a polling loop.
#include "cli/events.h"

#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/output.h"
#include "core/clock.h"
#include "core/error.h"

namespace lrb::cli {

namespace {

// A page can only be empty at the head of the log, so reading stops
// there; the bound guards against a broker that never says so.
constexpr int k_max_pages = 100'000;

std::int64_t last_seq_of(const core::Json& page, std::int64_t since) {
  const auto it = page.find("lastSeq");
  if (it == page.end() || !it->is_number_integer()) {
    throw core::Error(core::Code::internal,
                      "watch events: the broker's answer has no lastSeq");
  }
  return std::max(since, it->get<std::int64_t>());
}

const core::Json& events_of(const core::Json& page) {
  static const core::Json k_empty = core::Json::array();
  const auto it = page.find("events");
  return it != page.end() && it->is_array() ? *it : k_empty;
}

} // namespace

std::int64_t
read_events(BrokerClient& client, std::int64_t since,
            const std::string& cluster,
            const std::function<void(const core::Json&)>& on_page) {
  for (int i = 0; i < k_max_pages; ++i) {
    const core::Json page = client.events(since, cluster, 0);
    const core::Json& events = events_of(page);
    const std::int64_t next = last_seq_of(page, since);
    if (events.empty()) {
      return next;
    }
    on_page(events);
    if (next == since) {
      return next; // no progress: never loop on the same page
    }
    since = next;
  }
  return since;
}

std::int64_t head_seq(BrokerClient& client) {
  return read_events(client, 0, "", [](const core::Json&) {});
}

void follow_events(BrokerClient& client, std::int64_t since,
                   const std::string& cluster,
                   const std::function<void(const core::Json&)>& on_page) {
  for (;;) {
    const core::Json page = client.events(since, cluster, k_watch_poll_ms);
    const core::Json& events = events_of(page);
    if (!events.empty()) {
      on_page(events);
    }
    since = last_seq_of(page, since);
  }
}

namespace {

struct EventsFlags {
  std::int64_t since = 0;
  bool follow = false;
  std::string cluster;
};

// Columns of the event table; the minimum widths keep --follow's
// batches aligned with each other.
const std::vector<std::string> k_headers = {
    "SEQ", "AGE", "TYPE", "CLUSTER", "RESERVATION", "PHASE", "MESSAGE"};
const std::vector<std::size_t> k_min_widths = {6, 5, 26, 12, 18, 8, 0};

// Returns a text field of an event, "-" when absent or empty.
std::string field(const core::Json& e, const char* key) {
  const std::string value = e.value(key, "");
  return value.empty() ? "-" : value;
}

std::vector<std::string> event_row(const core::Json& e, bool wide, bool color,
                                   core::WallMs now) {
  const std::string time = e.value("time", "");
  const std::string phase = field(e, "phase");
  std::vector<std::string> row = {
      fmt::format("{}", e.value("seq", std::int64_t{0})),
      time.empty() ? "-" : age_since(core::parse_rfc3339(time, "time"), now),
      field(e, "type"),
      field(e, "clusterID"),
      field(e, "reservationID"),
      paint(phase, color_of_phase(phase), color),
      e.value("message", "")};
  if (wide) {
    row.push_back(time);
    row.push_back(field(e, "requesterID"));
  }
  return row;
}

// Prints one page of events; `first` says whether headers are due.
void print_events(const core::Json& events, Format format, bool color,
                  bool first) {
  if (format == Format::json || format == Format::yaml) {
    for (const auto& e : events) {
      print_out(format == Format::json ? e.dump() + "\n"
                                       : "---\n" + to_yaml(e));
    }
    return;
  }
  auto headers = k_headers;
  auto widths = k_min_widths;
  if (format == Format::wide) {
    headers.insert(headers.end(), {"TIME", "REQUESTER"});
    widths.insert(widths.end(), {24, 0});
  }
  Table table(headers);
  table.set_min_widths(widths);
  const auto now = core::system_clock().wall_ms();
  for (const auto& e : events) {
    table.add_row(event_row(e, format == Format::wide, color, now));
  }
  print_out(table.render(first));
}

int run_events(const EventsFlags& f, const Globals& g) {
  const Format format =
      output_format(g.output, "events",
                    {Format::table, Format::wide, Format::json, Format::yaml});
  BrokerClient client(g);
  const bool stream =
      f.follow || format == Format::table || format == Format::wide;
  // Without --follow, json and yaml print one document in the API's own
  // shape; tables and --follow print page by page as events arrive.
  core::Json all = core::Json::array();
  bool first = true;
  auto on_page = [&](const core::Json& events) {
    if (!stream) {
      all.insert(all.end(), events.begin(), events.end());
      return;
    }
    print_events(events, format, g.color, first);
    first = false;
  };
  const std::int64_t last = read_events(client, f.since, f.cluster, on_page);
  if (f.follow) {
    follow_events(client, last, f.cluster, on_page);
  }
  if (!stream) {
    print_document(core::Json{{"events", all}, {"lastSeq", last}}, format);
  }
  return 0;
}

void setup(CLI::App& root, Globals& globals) {
  auto* cmd = root.add_subcommand("events", "Print the broker's event log");
  auto flags = std::make_shared<EventsFlags>();
  cmd->add_option("--since", flags->since,
                  "Only events after this seq (default 0: all retained)")
      ->type_name("SEQ")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("-f,--follow", flags->follow,
                "Keep printing events as they happen");
  cmd->add_option("--cluster", flags->cluster,
                  "Only events concerning this cluster")
      ->type_name(std::string(k_type_cluster));
  cmd->callback([flags, &globals] {
    globals.action = [flags, &globals] { return run_events(*flags, globals); };
  });
}

const VerbRegistrar k_registrar({"events", 300, setup});

} // namespace

} // namespace lrb::cli
