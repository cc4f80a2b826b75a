// Who is calling the broker. The HTTP layer builds one RequestContext per
// request and hands it to the service; today every caller is an
// anonymous admin over plain HTTP (the broker warns about it at start),
// and the security work fills `identity` from a client certificate or a
// bearer token and makes `authorize` refuse what a role may not do.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace lrb::daemon {

// What a caller may do: an agent acts for its own cluster, an operator
// and an admin for all.
enum class Role { agent, operator_, admin };

// The authenticated caller.
struct Identity {
  std::string subject = "anonymous";
  Role role = Role::admin;
  std::string cluster_id; // for agents: the cluster they speak for
};

// Everything a handler knows about the request besides its body.
struct RequestContext {
  Identity identity;
  std::string remote_addr;
  std::string request_id;
};

// Throws Error(permission_denied) unless `identity` may act on behalf of
// `cluster_id` (agents only for their own cluster).
inline void authorize(const Identity& identity, std::string_view cluster_id) {
  if (identity.role != Role::agent || identity.cluster_id == cluster_id) {
    return;
  }
  throw core::Error(core::Code::permission_denied,
                    identity.subject + " may act only for cluster " +
                        identity.cluster_id,
                    "", "PermissionDenied");
}

// Throws Error(permission_denied) naming `action` unless `identity` is an
// operator or an admin.
inline void require_operator(const Identity& identity,
                             std::string_view action) {
  if (identity.role != Role::agent) {
    return;
  }
  throw core::Error(core::Code::permission_denied,
                    identity.subject + " may not " + std::string(action) +
                        ": it needs the operator role",
                    "", "PermissionDenied");
}

} // namespace lrb::daemon
