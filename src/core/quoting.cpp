#include "core/quoting.h"

#include <fmt/format.h>

namespace lrb::core {

namespace {

// Input echoed in a message is cut here to keep messages readable.
constexpr std::size_t k_max_quoted = 64;

} // namespace

std::string quote_input(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < k_max_quoted; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += text.size() > k_max_quoted ? "...\"" : "\"";
  return out;
}

} // namespace lrb::core
