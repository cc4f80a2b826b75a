// Quoting of untrusted input inside error messages. The parsers of core
// echo the text they reject so that an operator sees what was wrong; the
// echo must not let hostile input forge log lines or flood a response.
#pragma once

#include <string>
#include <string_view>

namespace lrb::core {

// Returns `text` in double quotes with control, non-ASCII, quote and
// backslash bytes written as \xNN, cut after 64 bytes with "...".
std::string quote_input(std::string_view text);

} // namespace lrb::core
