#include <functional>
#include <string>

#include <doctest/doctest.h>

#include "daemon/identity.h"

namespace lrb::daemon {

namespace {

Identity who(Role role, std::string cluster = {}) {
  return {"caller", role, std::move(cluster)};
}

core::Code code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::Error& e) {
    return e.code();
  }
  return core::Code::internal; // stands for "did not throw"
}

} // namespace

TEST_CASE("the authorization table: role x action x cluster") {
  struct Row {
    Role role;
    const char* own; // the agent's cluster
    Permission action;
    const char* cluster; // the cluster the request concerns
    bool allowed;
  };
  const Row rows[] = {
      // A viewer reads and watches, and changes nothing.
      {Role::viewer, "", Permission::read, "", true},
      {Role::viewer, "", Permission::watch, "paris", true},
      {Role::viewer, "", Permission::metrics, "", true},
      {Role::viewer, "", Permission::advertise, "rome", false},
      {Role::viewer, "", Permission::reserve, "rome", false},
      {Role::viewer, "", Permission::lifecycle, "rome", false},
      {Role::viewer, "", Permission::cordon, "rome", false},
      // An agent acts for its own cluster only.
      {Role::agent, "rome", Permission::read, "", true},
      {Role::agent, "rome", Permission::read, "rome", true},
      {Role::agent, "rome", Permission::read, "paris", false},
      {Role::agent, "rome", Permission::advertise, "rome", true},
      {Role::agent, "rome", Permission::advertise, "paris", false},
      {Role::agent, "rome", Permission::reserve, "rome", true},
      {Role::agent, "rome", Permission::reserve, "paris", false},
      {Role::agent, "rome", Permission::lifecycle, "rome", true},
      {Role::agent, "rome", Permission::lifecycle, "paris", false},
      {Role::agent, "rome", Permission::watch, "rome", true},
      {Role::agent, "rome", Permission::watch, "paris", false},
      {Role::agent, "rome", Permission::cordon, "rome", false},
      {Role::agent, "rome", Permission::metrics, "", true},
      // An operator reserves and acts for anyone and cordons, but does
      // not speak for a cluster's inventory.
      {Role::operator_, "", Permission::reserve, "paris", true},
      {Role::operator_, "", Permission::lifecycle, "paris", true},
      {Role::operator_, "", Permission::cordon, "paris", true},
      {Role::operator_, "", Permission::read, "paris", true},
      {Role::operator_, "", Permission::advertise, "paris", false},
      // An admin does everything.
      {Role::admin, "", Permission::advertise, "paris", true},
      {Role::admin, "", Permission::reserve, "paris", true},
      {Role::admin, "", Permission::lifecycle, "paris", true},
      {Role::admin, "", Permission::cordon, "paris", true},
      {Role::admin, "", Permission::watch, "", true},
  };
  for (const auto& row : rows) {
    auto id = who(row.role, row.own);
    CAPTURE(role_name(row.role));
    CAPTURE(permission_name(row.action));
    CAPTURE(row.cluster);
    std::string why = denial(id, row.action, row.cluster);
    CHECK(why.empty() == row.allowed);
    if (!row.allowed) {
      // The reason names the caller and the refused action.
      CHECK(why.find("caller") != std::string::npos);
      CHECK(why.find(permission_name(row.action)) != std::string::npos);
      CHECK(code_of([&] { check_allowed(id, row.action, row.cluster); }) ==
            core::Code::permission_denied);
    }
  }
}

TEST_CASE("an agent sees reservations its cluster requested or provides") {
  auto rome = who(Role::agent, "rome");
  CHECK(may_see(rome, "rome", "paris"));
  CHECK(may_see(rome, "paris", "rome"));
  CHECK_FALSE(may_see(rome, "paris", "berlin"));
  CHECK(may_see(who(Role::viewer), "paris", "berlin"));
  CHECK(may_see(who(Role::operator_), "paris", "berlin"));
}

TEST_CASE("the service's checks refuse viewers and foreign agents") {
  auto denied = core::Code::permission_denied;
  CHECK(code_of([&] { authorize(who(Role::viewer), "rome"); }) == denied);
  CHECK(code_of([&] { authorize(who(Role::agent, "rome"), "paris"); }) ==
        denied);
  CHECK(code_of([&] { authorize(who(Role::agent, "rome"), "rome"); }) ==
        core::Code::internal);
  CHECK(code_of([&] { authorize(who(Role::operator_), "paris"); }) ==
        core::Code::internal);
  CHECK(code_of([&] { require_operator(who(Role::viewer), "cordon"); }) ==
        denied);
  CHECK(code_of([&] {
          require_operator(who(Role::agent, "rome"), "cordon");
        }) == denied);
  CHECK(code_of([&] { require_operator(who(Role::operator_), "cordon"); }) ==
        core::Code::internal);
}

TEST_CASE("an identity is described with its role") {
  CHECK(describe(who(Role::agent, "rome")) == "caller (agent:rome)");
  CHECK(describe(who(Role::operator_)) == "caller (operator)");
  CHECK(describe(Identity{}) == "anonymous (admin)");
}

} // namespace lrb::daemon
