#include "helixkit/Utilities/IdLookup.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string>

#include "helixkit/Utilities/ParallelFor.hpp"

namespace helixkit {

namespace {

// splitmix64's finaliser: ids such as TrackML's (bit fields of vertex and
// particle numbers) spread over the whole table
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

std::vector<std::int64_t> lookupIds(std::span<const std::int64_t> keys,
                                    std::span<const std::int64_t> queries,
                                    unsigned nThreads) {
  std::vector<std::int64_t> pos(queries.size(), -1);
  if (keys.empty()) {
    return pos;
  }
  // at most half full: short probe sequences
  const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(2 * keys.size(), 16));
  const std::uint64_t mask = capacity - 1;
  std::vector<std::int64_t> slotKey(capacity, 0);
  std::vector<std::int64_t> slotRow(capacity, -1);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    std::uint64_t s = mix(static_cast<std::uint64_t>(keys[i])) & mask;
    while (slotRow[s] >= 0) {
      if (slotKey[s] == keys[i]) {
        throw std::invalid_argument("lookupIds: keys must be unique (" +
                                    std::to_string(keys[i]) + " repeats at index " +
                                    std::to_string(i) + ")");
      }
      s = (s + 1) & mask;
    }
    slotKey[s] = keys[i];
    slotRow[s] = static_cast<std::int64_t>(i);
  }
  // chunks of 16k queries: enough work per task, boundaries independent of nThreads
  parallelChunks(queries.size(), std::size_t(1) << 14, nThreads,
                 [&](std::size_t, std::size_t begin, std::size_t end) {
                   for (std::size_t i = begin; i < end; ++i) {
                     std::uint64_t s = mix(static_cast<std::uint64_t>(queries[i])) & mask;
                     while (slotRow[s] >= 0 && slotKey[s] != queries[i]) {
                       s = (s + 1) & mask;
                     }
                     pos[i] = slotRow[s];
                   }
                 });
  return pos;
}

}  // namespace helixkit
