// The request flags that `lrb reserve` and `lrb explain` share, and the
// one function that turns them into a core::ReservationRequest. Keeping
// them here means the two verbs cannot drift apart: what explain shows is
// what reserve would ask for. Every value is parsed with core's parsers
// and every mistake names the flag that holds it.
#pragma once

#include <string>
#include <vector>

#include "core/types.h"

namespace CLI {
class App;
class Validator;
} // namespace CLI

namespace lrb::cli {

// The flags as typed; empty strings mean "not given".
struct RequestFlags {
  std::string cpu;    // --cpu QTY
  std::string memory; // --mem QTY
  std::string gpu;    // --gpu N
  std::string gpu_model;
  std::string storage;                // --storage QTY
  std::vector<std::string> resources; // --resource NAME=QTY
  std::string requester;
  std::string target;
  std::string duration;
  std::int32_t priority = 0;
  std::string policy;
  std::string weights; // "0.7,0.3"
  std::string seed;
  std::vector<std::string> regions;
  std::vector<std::string> labels; // K=V
  std::string max_price;
};

// Adds the request flags to `cmd` (reserve and explain).
void add_request_flags(CLI::App& cmd, RequestFlags& flags);

// Returns a CLI11 check that `resource` quantities parse with core's
// parser (a usage error naming the flag otherwise).
CLI::Validator quantity_check(std::string resource);

// Returns a CLI11 check that a Go duration parses and is positive.
CLI::Validator duration_check();

// Builds the request. `default_requester` (from LRB_CLUSTER or the
// config file) applies when --requester is not given. Throws
// Error(invalid_argument) naming the flag at fault: a bad quantity,
// duration, weight pair, seed, price, label or resource, a resource set
// twice, or no requester at all.
core::ReservationRequest build_request(const RequestFlags& flags,
                                       const std::string& default_requester);

// Parses --granted values of `lrb activate` ("cpu=2,memory=4Gi", the
// flag repeatable) into a list; throws Error(invalid_argument) naming
// --granted for a bad item, name or quantity, or a resource given twice.
core::ResourceList parse_granted(const std::vector<std::string>& values);

// Splits "weights" such as "0.7,0.3" into the resource and cost weights;
// each in [0, 1] and summing to 1 (within 1e-9). Throws naming --weights.
std::pair<double, double> parse_weights(const std::string& text);

} // namespace lrb::cli
