#include <doctest/doctest.h>

#include "core/error.h"

namespace lrb::core {

TEST_CASE("every code maps to the documented HTTP status and exit code") {
  struct Row {
    Code code;
    int http;
    int exit;
  };
  // DESIGN.md section 9: 2 usage, 3 no cluster fits, 4 conflict,
  // 5 broker unreachable, 124 timed out; 1 for the rest.
  const Row rows[] = {
      {Code::invalid_argument, 400, 2},
      {Code::unauthenticated, 401, 1},
      {Code::permission_denied, 403, 1},
      {Code::not_found, 404, 1},
      {Code::method_not_allowed, 405, 1},
      {Code::conflict, 409, 4},
      {Code::gone, 410, 1},
      {Code::too_large, 413, 1},
      {Code::unprocessable, 422, 1},
      {Code::no_capacity, 422, 3},
      {Code::unavailable, 503, 5},
      {Code::timeout, 504, 124},
      {Code::internal, 500, 1},
  };
  for (const auto& row : rows) {
    CAPTURE(code_name(row.code));
    CHECK(http_status(row.code) == row.http);
    CHECK(exit_code(row.code) == row.exit);
  }
}

TEST_CASE("nested errors build a JSON path") {
  Error inner(Code::invalid_argument, "bad", "cpu", "InvalidQuantity");
  Error outer = inner.nested("requestedResources");
  CHECK(outer.field() == "requestedResources.cpu");
  CHECK(outer.reason() == "InvalidQuantity");
  CHECK(std::string(outer.what()) == "bad");
  CHECK(Error(Code::conflict, "x").reason() == "Conflict");
}

} // namespace lrb::core
