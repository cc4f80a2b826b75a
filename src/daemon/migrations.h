// The schema migrations embedded in the binary at build time from
// migrations/NNNN_name.sql (see cmake/EmbedMigrationsRun.cmake).
#pragma once

#include <string_view>
#include <vector>

namespace lrb::daemon {

// One migration: applied in `version` order, recorded in user_version.
struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// Returns the embedded migrations, sorted by version.
const std::vector<Migration>& embedded_migrations();

} // namespace lrb::daemon
