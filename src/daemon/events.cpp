#include "daemon/events.h"

#include "core/clock.h"
#include "core/json.h"

namespace lrb::daemon {

std::string render_event(const StoredEvent& e) {
  core::Json j{{"seq", e.seq},
               {"type", e.type},
               {"time", core::format_rfc3339(e.time)},
               {"clusterID", e.cluster_id}};
  if (!e.reservation_id.empty()) {
    j["requesterID"] = e.requester_id;
    j["reservationID"] = e.reservation_id;
    j["phase"] = e.phase;
  }
  if (!e.message.empty()) {
    j["message"] = e.message;
  }
  std::string out = j.dump();
  if (!e.reservation.empty()) {
    // The reservation is stored already encoded; splice it in rather
    // than parse it again.
    out.pop_back();
    out += ",\"reservation\":";
    out += e.reservation;
    out += '}';
  }
  return out;
}

bool event_concerns(const StoredEvent& e, std::string_view cluster_id) {
  return cluster_id.empty() || e.cluster_id == cluster_id ||
         e.requester_id == cluster_id;
}

EventLog::EventLog(std::size_t capacity) : capacity_(capacity) {}

void EventLog::reset(const EventBounds& bounds, std::vector<StoredEvent> tail) {
  std::lock_guard lock(mu_);
  tail_.clear();
  bounds_ = bounds;
  for (auto& e : tail) {
    std::string json = render_event(e);
    tail_.push_back({std::move(e), std::move(json)});
  }
  while (tail_.size() > capacity_) {
    tail_.pop_front();
  }
}

void EventLog::append(const std::vector<StoredEvent>& events) {
  if (events.empty()) {
    return;
  }
  {
    std::lock_guard lock(mu_);
    for (const auto& e : events) {
      tail_.push_back({e, render_event(e)});
      bounds_.last_seq = std::max(bounds_.last_seq, e.seq);
    }
    while (tail_.size() > capacity_) {
      tail_.pop_front();
    }
  }
  cv_.notify_all();
}

void EventLog::compacted(std::int64_t through) {
  std::lock_guard lock(mu_);
  bounds_.compacted_through = std::max(bounds_.compacted_through, through);
  while (!tail_.empty() && tail_.front().event.seq <= through) {
    tail_.pop_front();
  }
}

std::optional<EventPage> EventLog::collect(std::int64_t since,
                                           std::string_view cluster_id,
                                           std::size_t limit) const {
  std::lock_guard lock(mu_);
  // Everything after `since` must be here: either the tail starts right
  // after it, or nothing between `since` and the tail was ever written
  // or kept.
  std::int64_t first =
      tail_.empty() ? bounds_.last_seq + 1 : tail_.front().event.seq;
  if (since + 1 < first && since < bounds_.last_seq &&
      first - 1 > bounds_.compacted_through) {
    return std::nullopt;
  }

  EventPage page;
  page.last_seq = std::max(since, bounds_.last_seq);
  auto it = std::upper_bound(
      tail_.begin(), tail_.end(), since,
      [](std::int64_t s, const Entry& e) { return s < e.event.seq; });
  for (; it != tail_.end(); ++it) {
    if (!event_concerns(it->event, cluster_id)) {
      continue;
    }
    if (page.events.size() == limit) {
      page.last_seq = it->event.seq - 1;
      break;
    }
    page.events.push_back(it->json);
  }
  return page;
}

bool EventLog::wait_after(
    std::int64_t seen, std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline,
                 [&] { return closed_ || bounds_.last_seq > seen; });
  return bounds_.last_seq > seen;
}

void EventLog::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

EventBounds EventLog::bounds() const {
  std::lock_guard lock(mu_);
  return bounds_;
}

} // namespace lrb::daemon
