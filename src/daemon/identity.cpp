// The authorization table. Roles are checked in two steps: first what a
// role may do at all (one row per action below, so the whole policy
// reads on one screen), then, for agents, whether the cluster the
// request concerns is their own. Every refusal says who asked, what was
// refused and what would be allowed, because a 403 that does not say
// why sends an operator to the logs.
#include "daemon/identity.h"

#include <array>

#include <fmt/format.h>

namespace lrb::daemon {

namespace {

// Which roles hold a permission at all; agents are then scoped to their
// cluster by `scoped`.
struct Rule {
  Permission action;
  bool viewer, agent, operator_, admin;
  bool scoped; // an agent may do it only for its own cluster
};

// clang-format off
constexpr std::array k_rules = {
    //   permission              viewer agent  oper.  admin  scoped
    Rule{Permission::read,       true,  true,  true,  true,  true},
    Rule{Permission::advertise,  false, true,  false, true,  true},
    Rule{Permission::reserve,    false, true,  true,  true,  true},
    Rule{Permission::lifecycle,  false, true,  true,  true,  true},
    Rule{Permission::cordon,     false, false, true,  true,  false},
    Rule{Permission::watch,      true,  true,  true,  true,  true},
    Rule{Permission::metrics,    true,  true,  true,  true,  false},
};
// clang-format on

const Rule& rule_of(Permission action) {
  for (const auto& rule : k_rules) {
    if (rule.action == action) {
      return rule;
    }
  }
  return k_rules.front(); // unreachable: every action has a row
}

bool role_may(const Rule& rule, Role role) {
  switch (role) {
  case Role::viewer:
    return rule.viewer;
  case Role::agent:
    return rule.agent;
  case Role::operator_:
    return rule.operator_;
  case Role::admin:
    return rule.admin;
  }
  return false;
}

// Returns the roles that may do `rule`'s action, for the message.
std::string allowed_roles(const Rule& rule) {
  std::vector<std::string_view> names;
  for (Role role : {Role::viewer, Role::agent, Role::operator_, Role::admin}) {
    if (role_may(rule, role)) {
      names.push_back(role_name(role));
    }
  }
  return fmt::format("{}", fmt::join(names, ", "));
}

} // namespace

std::string_view role_name(Role role) {
  switch (role) {
  case Role::viewer:
    return "viewer";
  case Role::agent:
    return "agent";
  case Role::operator_:
    return "operator";
  case Role::admin:
    return "admin";
  }
  return "unknown";
}

std::string_view permission_name(Permission action) {
  switch (action) {
  case Permission::read:
    return "read";
  case Permission::advertise:
    return "advertise";
  case Permission::reserve:
    return "reserve";
  case Permission::lifecycle:
    return "change a reservation";
  case Permission::cordon:
    return "cordon";
  case Permission::watch:
    return "watch events";
  case Permission::metrics:
    return "read metrics";
  }
  return "unknown";
}

std::string describe(const Identity& identity) {
  if (identity.role == Role::agent) {
    return fmt::format("{} (agent:{})", identity.subject, identity.cluster_id);
  }
  return fmt::format("{} ({})", identity.subject, role_name(identity.role));
}

std::string denial(const Identity& identity, Permission action,
                   std::string_view cluster_id) {
  const Rule& rule = rule_of(action);
  if (!role_may(rule, identity.role)) {
    return fmt::format("{} may not {}: that needs the role {}",
                       describe(identity), permission_name(action),
                       allowed_roles(rule));
  }
  if (identity.role != Role::agent || !rule.scoped || cluster_id.empty() ||
      cluster_id == identity.cluster_id) {
    return {};
  }
  return fmt::format("{} may not {} for cluster {}: an agent acts only "
                     "for its own cluster",
                     describe(identity), permission_name(action), cluster_id);
}

void check_allowed(const Identity& identity, Permission action,
                   std::string_view cluster_id) {
  std::string why = denial(identity, action, cluster_id);
  if (!why.empty()) {
    throw core::Error(core::Code::permission_denied, why, "",
                      "PermissionDenied");
  }
}

bool may_see(const Identity& identity, std::string_view requester_id,
             std::string_view provider_id) {
  return identity.role != Role::agent || requester_id == identity.cluster_id ||
         provider_id == identity.cluster_id;
}

void authorize(const Identity& identity, std::string_view cluster_id) {
  if (identity.role == Role::viewer) {
    throw core::Error(core::Code::permission_denied,
                      fmt::format("{} may not change anything: a viewer "
                                  "only reads",
                                  describe(identity)),
                      "", "PermissionDenied");
  }
  if (identity.role == Role::agent && identity.cluster_id != cluster_id) {
    throw core::Error(core::Code::permission_denied,
                      fmt::format("{} may not act for cluster {}: an agent "
                                  "acts only for its own cluster",
                                  describe(identity), cluster_id),
                      "", "PermissionDenied");
  }
}

void require_operator(const Identity& identity, std::string_view action) {
  if (identity.role == Role::operator_ || identity.role == Role::admin) {
    return;
  }
  throw core::Error(core::Code::permission_denied,
                    fmt::format("{} may not {}: that needs the role "
                                "operator or admin",
                                describe(identity), action),
                    "", "PermissionDenied");
}

} // namespace lrb::daemon
