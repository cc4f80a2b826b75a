#include "daemon/doctor.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/lifecycle.h"
#include "daemon/accounting.h"

namespace lrb::daemon {

namespace {

const std::string& id_of(const core::Reservation& r) {
  return r.id;
}
const std::string& id_of(const std::string& id) {
  return id;
}

std::set<std::string> names_of(const core::ResourceList& a,
                               const core::ResourceList& b) {
  auto x = a.names();
  auto y = b.names();
  std::set<std::string> out(x.begin(), x.end());
  out.insert(y.begin(), y.end());
  return out;
}

void check_cluster(const core::Cluster& c,
                   const std::vector<core::Reservation>& holding,
                   DoctorReport& report) {
  std::string object = "cluster/" + c.ad.cluster_id;
  auto expected = reserved_total(holding, c.ad);
  for (const auto& name : names_of(c.reserved, expected)) {
    auto stored = c.reserved.get(name);
    if (stored != expected.get(name)) {
      report.findings.push_back(
          {true, object,
           fmt::format("reserved {} is {}, but its {} Reserved and Active "
                       "reservations hold {}",
                       name, core::format_resource(name, stored),
                       holding.size(),
                       core::format_resource(name, expected.get(name)))});
    }
    if (stored < 0) {
      report.findings.push_back(
          {true, object, fmt::format("reserved {} is negative", name)});
    }
  }
  auto available = c.ad.resources.available;
  for (const auto& name : c.reserved.names()) {
    if (c.reserved.get(name) > available.get(name)) {
      report.findings.push_back(
          {false, object,
           fmt::format("overcommitted: reserved {} {} is above the "
                       "available {} (free shows 0)",
                       name, core::format_resource(name, c.reserved.get(name)),
                       core::format_resource(name, available.get(name)))});
    }
  }
}

void check_reservation(const core::Reservation& r,
                       const std::set<std::string>& clusters,
                       DoctorReport& report) {
  std::string object = "reservation/" + r.id;
  auto problem = [&](std::string message) {
    report.findings.push_back({true, object, std::move(message)});
  };
  if (r.target_cluster_id.empty()) {
    problem("holds capacity but names no provider");
  } else if (clusters.count(r.target_cluster_id) == 0) {
    problem(fmt::format("provider {} does not exist", r.target_cluster_id));
  }
  r.granted.for_each([&](std::string_view name, std::int64_t v) {
    if (v > r.request.requested.get(name)) {
      problem(fmt::format(
          "granted {} {} is above the requested {}", name,
          core::format_resource(name, v),
          core::format_resource(name, r.request.requested.get(name))));
    }
  });
  if (!r.status.expires_at) {
    problem("holds capacity without a lease end (expiresAt)");
  }
  if (r.status.phase == core::Phase::reserved &&
      !r.status.activation_deadline) {
    problem("is Reserved without an activation deadline");
  }
}

} // namespace

bool DoctorReport::clean() const {
  for (const auto& f : findings) {
    if (f.error) {
      return false;
    }
  }
  return true;
}

DoctorReport check_store(Store& store) {
  DoctorReport report;
  report.schema_version = store.schema_version();
  store.transact(TxMode::read, [&](StoreTx& tx) {
    report = DoctorReport{report.schema_version, 0, 0, 0, {}};
    auto clusters = tx.load_clusters();
    auto holding = tx.all_holding_reservations();
    report.clusters = static_cast<std::int64_t>(clusters.size());
    report.reservations = tx.count_reservations();
    report.holding = static_cast<std::int64_t>(holding.size());

    std::map<std::string, std::vector<core::Reservation>> by_provider;
    for (const auto& r : holding) {
      by_provider[r.target_cluster_id].push_back(r);
    }
    std::set<std::string> ids;
    for (const auto& c : clusters) {
      ids.insert(c.ad.cluster_id);
      check_cluster(c, by_provider[c.ad.cluster_id], report);
    }
    for (const auto& r : holding) {
      check_reservation(r, ids, report);
    }
    for (const auto& [id, target] : tx.dangling_targets()) {
      if (!std::binary_search(holding.begin(), holding.end(), id,
                              [](const auto& a, const auto& b) {
                                return id_of(a) < id_of(b);
                              })) {
        report.findings.push_back(
            {true, "reservation/" + id,
             fmt::format("provider {} does not exist", target)});
      }
    }
    for (const auto& [requester, key, id] : tx.list_idempotency()) {
      if (!tx.find_reservation(id)) {
        report.findings.push_back(
            {true, "idempotency/" + requester,
             fmt::format("key \"{}\" names reservation {}, which does not "
                         "exist",
                         key, id)});
      }
    }
    auto bounds = tx.event_bounds();
    if (bounds.compacted_through > bounds.last_seq) {
      report.findings.push_back(
          {true, "store",
           fmt::format("events compacted through seq {} beyond the last "
                       "seq {}",
                       bounds.compacted_through, bounds.last_seq)});
    }
  });
  return report;
}

core::Json encode_report(const DoctorReport& report) {
  core::Json findings = core::Json::array();
  for (const auto& f : report.findings) {
    findings.push_back({{"severity", f.error ? "error" : "warning"},
                        {"object", f.object},
                        {"message", f.message}});
  }
  return {
      {"ok", report.clean()},        {"schemaVersion", report.schema_version},
      {"clusters", report.clusters}, {"reservations", report.reservations},
      {"holding", report.holding},   {"findings", std::move(findings)}};
}

} // namespace lrb::daemon
