// The one error type of lrb. Every module reports failures as an Error
// with a code; the code alone decides the HTTP status a handler answers
// and the exit code the CLI returns, through the tables in error.cpp, so
// the two can never disagree. Library exceptions (SQLite, JSON, OpenSSL,
// yaml-cpp) are turned into Error at the edge of the module that calls
// them.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace lrb::core {

// What went wrong, in the terms a caller can act on.
enum class Code {
  invalid_argument,   // bad input: fix the named field (400, exit 2)
  unauthenticated,    // no or bad credentials (401, exit 1)
  permission_denied,  // identity known, action not allowed (403, exit 1)
  not_found,          // no such object (404, exit 1)
  method_not_allowed, // route exists, method does not (405, exit 1)
  conflict,           // version or state conflict (409, exit 4)
  gone,               // watch position compacted away (410, exit 1)
  too_large,          // body, header or URL over a limit (413, exit 1)
  unprocessable,      // well-formed but not acceptable now (422, exit 1)
  no_capacity,        // no cluster fits / reservation failed (exit 3)
  unavailable,        // peer unreachable or not ready (503, exit 5)
  timeout,            // waited too long (exit 124)
  internal,           // a bug or a broken invariant (500, exit 1)
};

// An error with a code, a human message, and where known the input field
// at fault (as a JSON path such as "requestedResources.cpu") and a
// machine-readable reason (such as "InvalidQuantity").
class Error : public std::runtime_error {
public:
  Error(Code code, std::string message, std::string field = {},
        std::string reason = {});

  // Returns the category of the failure.
  Code code() const { return code_; }
  // Returns the offending input field, or "" when none applies.
  const std::string& field() const { return field_; }
  // Returns the wire reason, defaulting to the code's name.
  const std::string& reason() const { return reason_; }

  // Returns a copy whose field is prefixed with `parent` ("a" + "b" ->
  // "a.b"), used when a decoder of a nested object reports upward.
  Error nested(std::string_view parent) const;

private:
  Code code_;
  std::string field_;
  std::string reason_;
};

// Returns the HTTP status for a code (no_capacity and timeout map to 422
// and 504 should they ever reach HTTP).
int http_status(Code code);

// Returns the CLI exit code for a code, as DESIGN.md section 9 lists them.
int exit_code(Code code);

// Returns the CamelCase name used as the default wire reason.
std::string_view code_name(Code code);

// Returns the code an HTTP status maps back to (used by clients).
Code code_for_http_status(int status);

} // namespace lrb::core
