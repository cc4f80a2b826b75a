// JSON for every domain type, in the wire shapes of DESIGN.md section 4:
// camelCase keys, quantities as strings, times as RFC 3339. Decoding is
// strict: a missing required field, a wrong type, a negative or
// fractional count, an out-of-range integer or an unknown phase is an
// Error(invalid_argument) whose field is the JSON path at fault
// ("requestedResources.cpu"). Nothing is silently cast. Unknown keys are
// ignored in advertisements (agents of other versions send more) and
// rejected in reservation requests, where a typo would change meaning.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "core/types.h"

namespace lrb::core {

using Json = nlohmann::json;

// Limits applied by parse_json.
struct JsonLimits {
  std::size_t max_depth = 32;
  std::size_t max_array = 10'000;
};

// Parses text into JSON; invalid JSON, invalid UTF-8 or a document over
// the limits is Error(invalid_argument, "MalformedJSON").
Json parse_json(std::string_view text, const JsonLimits& limits = {});

// Encodes / decodes a resource list as {"cpu": "4", "memory": "8Gi"}.
// Decoding canonicalises names ("nvidia.com/gpu" -> "gpu").
Json encode_resources(const ResourceList& list);
ResourceList decode_resources(const Json& j, std::string_view field);

Json encode_prices(const Prices& prices);
Prices decode_prices(const Json& j, std::string_view field);

// Advertisement: accepts the original prototype agent's shape too.
// Broker-owned fields ("reserved", "free", "state", ...) are ignored.
Json encode_advertisement(const Advertisement& ad);
Advertisement decode_advertisement(const Json& j);

// Cluster: the advertisement plus reserved, free, state, lastSeen,
// version.
Json encode_cluster(const Cluster& cluster);
Cluster decode_cluster(const Json& j);

Json encode_request(const ReservationRequest& request);
// Validates ids, positive cpu and memory, whole counts.
ReservationRequest decode_request(const Json& j);

Json encode_decision(const Decision& decision);
Decision decode_decision(const Json& j, std::string_view field);

Json encode_reservation(const Reservation& reservation);
Reservation decode_reservation(const Json& j);

// Returns {"error": {"code", "message", "field"?}} for an Error.
Json encode_error(const class Error& error);

} // namespace lrb::core
