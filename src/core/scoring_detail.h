// Pieces of the scoring core that its loop over the fleet inlines, kept
// in a header so the unit tests can hold them to what they stand for.
// The price is the one such piece: price_per_hour (types.h) converts the
// request's quantities and calls out of line for every cluster, which
// cost about as much as the rest of the loop, so the core converts once
// per decision and multiplies inline. The tests check that the two agree
// bit for bit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/types.h"

namespace lrb::core::detail {

// The request's amounts in the units prices are quoted in.
struct PriceTerms {
  double cores = 0;
  double memory_gib = 0;
  double storage_gib = 0;
  std::int64_t gpus = 0;
};

// Converts a request's amounts once, as price_per_hour does.
inline PriceTerms price_terms(const ResourceList& request) {
  constexpr double k_gib = 1024.0 * 1024.0 * 1024.0;
  PriceTerms terms;
  terms.cores = static_cast<double>(request.get(Slot::cpu)) / 1000.0;
  terms.memory_gib = static_cast<double>(request.get(Slot::memory)) / k_gib;
  terms.storage_gib = static_cast<double>(request.get(Slot::storage)) / k_gib;
  terms.gpus = request.get(Slot::gpu);
  return terms;
}

// Returns exactly what price_per_hour(prices, request, gpu_model) does,
// for the `terms` of that request.
inline std::optional<double> price_of(const PriceTerms& terms,
                                      const Prices& prices,
                                      const std::string& gpu_model) {
  double total = terms.cores * prices.cpu_per_hour +
                 terms.memory_gib * prices.memory_gib_per_hour +
                 terms.storage_gib * prices.storage_gib_per_hour;
  if (terms.gpus > 0) {
    const auto gpu_price = prices.gpu_price(gpu_model);
    if (!gpu_price) {
      return std::nullopt;
    }
    total += static_cast<double>(terms.gpus) * *gpu_price;
  }
  return total;
}

} // namespace lrb::core::detail
