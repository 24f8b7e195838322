#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace helixkit {

/// Position of every query in an array of unique ids, -1 where it is absent.
/// An open-addressing hash table over the keys (one or two probes per query),
/// queries split over threads; the result does not depend on the thread
/// count. The readers use it to check that ids refer to rows of another table
/// (truth particles -> particles).
/// @param keys unique ids, in any order
/// @param nThreads worker threads, 0 = all hardware threads
/// @throws std::invalid_argument naming the first repeated key
std::vector<std::int64_t> lookupIds(std::span<const std::int64_t> keys,
                                    std::span<const std::int64_t> queries,
                                    unsigned nThreads = 0);

}  // namespace helixkit
