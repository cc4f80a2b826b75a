// libFuzzer harness for the JSON codecs: every body the broker decodes
// (requests, advertisements, granted resources) and every answer a client
// decodes (clusters, reservations, decisions) goes through parse_json and
// then through each decoder. Beyond not crashing it checks what the rest
// of lrb relies on: a decoder either succeeds or throws lrb's Error
// (anything else escapes and is reported), every Error serializes, and
// whatever decodes re-encodes to a document that decodes to the same
// encoding (a fixed point after one round).
//   clang++-14 -std=c++20 -fsanitize=fuzzer,address,undefined -Isrc \
//     -DFMT_HEADER_ONLY fuzz/json_fuzz.cpp src/core/json.cpp \
//     src/core/types.cpp src/core/resources.cpp src/core/quantity.cpp \
//     src/core/duration.cpp src/core/clock.cpp src/core/error.cpp \
//     src/core/quoting.cpp -o json_fuzz
//   ./json_fuzz -max_total_time=60 -max_len=4096 fuzz/corpus/json
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/error.h"
#include "core/json.h"

namespace {

using lrb::core::Error;
using lrb::core::Json;

// Aborts unless `check` holds; libFuzzer then saves the input.
void require(bool check) {
  if (!check) {
    std::abort();
  }
}

// Runs `decode` on `doc`; when it succeeds, checks that encoding is a
// fixed point after one round, and when it fails, that the error
// serializes.
template <typename Decode, typename Encode>
void round_trip(const Json& doc, Decode decode, Encode encode) {
  Json first;
  try {
    first = encode(decode(doc));
  } catch (const Error& e) {
    require(!lrb::core::encode_error(e).dump().empty());
    return;
  }
  // The encoding must survive text, and decode to itself.
  const Json again = lrb::core::parse_json(first.dump());
  require(encode(decode(again)) == first);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  namespace core = lrb::core;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Json doc;
  try {
    doc = core::parse_json(text);
  } catch (const Error& e) {
    require(e.reason() == "MalformedJSON");
    require(!core::encode_error(e).dump().empty());
    return 0;
  }

  round_trip(doc, core::decode_request, core::encode_request);
  round_trip(doc, core::decode_advertisement, core::encode_advertisement);
  round_trip(doc, core::decode_cluster, core::encode_cluster);
  round_trip(doc, core::decode_reservation, core::encode_reservation);
  round_trip(
      doc, [](const Json& j) { return core::decode_decision(j, "decision"); },
      core::encode_decision);
  round_trip(
      doc, [](const Json& j) { return core::decode_prices(j, "prices"); },
      core::encode_prices);
  round_trip(
      doc,
      [](const Json& j) {
        return core::decode_resources(j, "grantedResources");
      },
      core::encode_resources);
  return 0;
}
