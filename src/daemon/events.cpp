#include "daemon/events.h"

#include <algorithm>

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

namespace {

// Frees the reservation's JSON (with its decision rows, kilobytes) of an
// event kept in the tail: it lives on in the rendered event, and a second
// copy would double the tail's memory.
void drop_reservation(StoredEvent& e) {
  e.reservation.clear();
  e.reservation.shrink_to_fit();
}

} // namespace

bool event_concerns(const StoredEvent& e, std::string_view cluster_id) {
  return cluster_id.empty() || e.cluster_id == cluster_id ||
         e.requester_id == cluster_id;
}

std::size_t event_size_estimate(const StoredEvent& e) {
  // The fixed part covers the keys, seq, the RFC 3339 time and quotes;
  // string fields may grow when escaped, which the slack absorbs.
  constexpr std::size_t k_fixed = 160;
  return k_fixed + e.type.size() + e.cluster_id.size() + e.requester_id.size() +
         e.reservation_id.size() + e.phase.size() + 2 * e.message.size() +
         e.reservation.size();
}

EventLog::EventLog(std::size_t capacity, std::size_t max_bytes)
    : capacity_(capacity), max_bytes_(max_bytes) {}

void EventLog::push(StoredEvent e, std::string json) {
  bytes_ += json.size();
  latest_[e.cluster_id] = e.seq;
  if (!e.requester_id.empty()) {
    latest_[e.requester_id] = e.seq;
  }
  tail_.push_back({std::move(e), std::move(json)});
  drop_reservation(tail_.back().event); // kept once, in json
}

void EventLog::trim() {
  while (!tail_.empty() && (tail_.size() > capacity_ || bytes_ > max_bytes_)) {
    bytes_ -= tail_.front().json.size();
    tail_.pop_front();
  }
}

void EventLog::reset(const EventBounds& bounds, std::vector<StoredEvent> tail) {
  std::lock_guard lock(mu_);
  tail_.clear();
  bytes_ = 0;
  latest_.clear();
  bounds_ = bounds;
  // The per-cluster record is complete from the first event loaded; a
  // watcher from before it is told to look (in the store).
  tracked_from_ = tail.empty() ? bounds.last_seq : tail.front().seq - 1;
  for (auto& e : tail) {
    std::string json = render_event(e);
    push(std::move(e), std::move(json));
  }
  trim();
}

void EventLog::append(const std::vector<StoredEvent>& events) {
  if (events.empty()) {
    return;
  }
  std::lock_guard lock(mu_);
  for (const auto& e : events) {
    push(e, render_event(e));
    bounds_.last_seq = std::max(bounds_.last_seq, e.seq);
  }
  trim();
  // Notified under the lock: a Parked node is erased by its last waiter,
  // which needs the lock to do so.
  wake("");
  for (const auto& e : events) {
    wake(e.cluster_id);
    if (!e.requester_id.empty() && e.requester_id != e.cluster_id) {
      wake(e.requester_id);
    }
  }
}

void EventLog::wake(std::string_view cluster_id) const {
  if (auto it = parked_.find(cluster_id); it != parked_.end()) {
    it->second.cv.notify_all();
  }
}

void EventLog::compacted(std::int64_t through) {
  std::lock_guard lock(mu_);
  bounds_.compacted_through = std::max(bounds_.compacted_through, through);
  while (!tail_.empty() && tail_.front().event.seq <= through) {
    bytes_ -= tail_.front().json.size();
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

bool EventLog::may_have(std::int64_t seen, std::string_view cluster_id) const {
  if (bounds_.last_seq <= seen) {
    return false;
  }
  if (cluster_id.empty() || seen < tracked_from_) {
    return true;
  }
  auto it = latest_.find(cluster_id);
  return it != latest_.end() && it->second > seen;
}

bool EventLog::wait_after(
    std::int64_t seen, std::string_view cluster_id,
    std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  if (closed_ || may_have(seen, cluster_id)) {
    return may_have(seen, cluster_id);
  }
  auto node = parked_.try_emplace(std::string(cluster_id)).first;
  ++node->second.waiting;
  node->second.cv.wait_until(
      lock, deadline, [&] { return closed_ || may_have(seen, cluster_id); });
  if (--node->second.waiting == 0) {
    parked_.erase(node);
  }
  return may_have(seen, cluster_id);
}

void EventLog::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  for (auto& [id, parked] : parked_) {
    parked.cv.notify_all();
  }
}

EventBounds EventLog::bounds() const {
  std::lock_guard lock(mu_);
  return bounds_;
}

std::size_t EventLog::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

std::size_t EventLog::size() const {
  std::lock_guard lock(mu_);
  return tail_.size();
}

} // namespace lrb::daemon
