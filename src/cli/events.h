// Reading the broker's event log from the CLI: `lrb events` prints it,
// and every --watch and --follow is built on the same two helpers, so
// they page, resume and stop the same way.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "cli/broker_client.h"
#include "core/json.h"

namespace lrb::cli {

// How long one watch request is held open by the broker.
inline constexpr std::int64_t k_watch_poll_ms = 30'000;

// Reads every retained event after `since` that concerns `cluster`,
// page by page without waiting, calling `on_page` with each non-empty
// "events" array; returns the seq to resume from.
std::int64_t read_events(BrokerClient& client, std::int64_t since,
                         const std::string& cluster,
                         const std::function<void(const core::Json&)>& on_page);

// Returns the seq of the newest event (a watch started there sees only
// what happens next).
std::int64_t head_seq(BrokerClient& client);

// Watches events after `since` until the process is stopped, calling
// `on_page` with each non-empty "events" array as it arrives.
[[noreturn]] void
follow_events(BrokerClient& client, std::int64_t since,
              const std::string& cluster,
              const std::function<void(const core::Json&)>& on_page);

} // namespace lrb::cli
