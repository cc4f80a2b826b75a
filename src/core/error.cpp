#include "core/error.h"

#include <utility>

namespace lrb::core {

namespace {

struct CodeRow {
  Code code;
  std::string_view name;
  int http;
  int exit;
};

// The single table mapping a code to its name, HTTP status and exit code.
constexpr CodeRow k_codes[] = {
    {Code::invalid_argument, "InvalidArgument", 400, 2},
    {Code::unauthenticated, "Unauthenticated", 401, 1},
    {Code::permission_denied, "PermissionDenied", 403, 1},
    {Code::not_found, "NotFound", 404, 1},
    {Code::method_not_allowed, "MethodNotAllowed", 405, 1},
    {Code::conflict, "Conflict", 409, 4},
    {Code::gone, "Gone", 410, 1},
    {Code::too_large, "TooLarge", 413, 1},
    {Code::unprocessable, "Unprocessable", 422, 1},
    {Code::no_capacity, "NoCapacity", 422, 3},
    {Code::unavailable, "Unavailable", 503, 5},
    {Code::timeout, "Timeout", 504, 124},
    {Code::internal, "Internal", 500, 1},
};

const CodeRow& row_of(Code code) {
  for (const auto& row : k_codes) {
    if (row.code == code) {
      return row;
    }
  }
  return k_codes[std::size(k_codes) - 1];
}

} // namespace

Error::Error(Code code, std::string message, std::string field,
             std::string reason)
    : std::runtime_error(std::move(message)), code_(code),
      field_(std::move(field)), reason_(std::move(reason)) {
  if (reason_.empty()) {
    reason_ = std::string(code_name(code_));
  }
}

Error Error::nested(std::string_view parent) const {
  std::string path(parent);
  if (!field_.empty()) {
    path += field_.front() == '[' ? "" : ".";
    path += field_;
  }
  return Error(code_, what(), path, reason_);
}

int http_status(Code code) {
  return row_of(code).http;
}

int exit_code(Code code) {
  return row_of(code).exit;
}

std::string_view code_name(Code code) {
  return row_of(code).name;
}

Code code_for_http_status(int status) {
  switch (status) {
  case 400:
  case 414:
  case 431:
    return status == 400 ? Code::invalid_argument : Code::too_large;
  case 401:
    return Code::unauthenticated;
  case 403:
    return Code::permission_denied;
  case 404:
    return Code::not_found;
  case 405:
    return Code::method_not_allowed;
  case 409:
    return Code::conflict;
  case 410:
    return Code::gone;
  case 413:
    return Code::too_large;
  case 422:
    return Code::unprocessable;
  case 503:
    return Code::unavailable;
  case 504:
    return Code::timeout;
  default:
    return Code::internal;
  }
}

} // namespace lrb::core
