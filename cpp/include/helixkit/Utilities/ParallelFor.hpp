#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

/// @file ParallelFor.hpp
/// Tiny std::thread based parallel loops whose *results* never depend on the
/// number of threads: work is split into chunks whose boundaries depend only
/// on the problem size and chunk size, and per-chunk outputs are merged in
/// chunk order. OpenMP is deliberately not used (torch ships its own runtime).

namespace helixkit {

/// Resolve a user thread count: 0 means std::thread::hardware_concurrency().
/// @return at least 1
unsigned resolveThreads(unsigned nThreads);

/// Call fn(chunkIndex, begin, end) for every chunk [begin, end) of [0, n),
/// chunks of `chunkSize` items (the last one may be shorter), on up to
/// `nThreads` threads (0 = all cores) with dynamic scheduling.
/// Chunk boundaries do not depend on nThreads. The first exception thrown by
/// any worker is rethrown in the calling thread after all workers joined.
template <typename fn_t>
void parallelChunks(std::size_t n, std::size_t chunkSize, unsigned nThreads,
                    fn_t&& fn) {
  if (n == 0) {
    return;
  }
  chunkSize = std::max<std::size_t>(chunkSize, 1);
  const std::size_t nChunks = (n + chunkSize - 1) / chunkSize;
  const std::size_t nWorkers =
      std::min<std::size_t>(resolveThreads(nThreads), nChunks);
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex errorMutex;
  auto worker = [&]() {
    for (;;) {
      const std::size_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= nChunks) {
        return;
      }
      const std::size_t begin = c * chunkSize;
      const std::size_t end = std::min(n, begin + chunkSize);
      try {
        fn(c, begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(errorMutex);
        if (!error) {
          error = std::current_exception();
        }
        next.store(nChunks, std::memory_order_relaxed);  // stop handing out work
        return;
      }
    }
  };
  if (nWorkers <= 1) {
    worker();
  } else {
    std::vector<std::thread> threads;
    threads.reserve(nWorkers - 1);
    for (std::size_t t = 0; t + 1 < nWorkers; ++t) {
      threads.emplace_back(worker);
    }
    worker();
    for (auto& th : threads) {
      th.join();
    }
  }
  if (error) {
    std::rethrow_exception(error);
  }
}

/// Call fn(i) for every i in [0, n) in parallel. fn must only write to
/// locations owned by index i, which makes the result thread-count invariant.
template <typename fn_t>
void parallelFor(std::size_t n, unsigned nThreads, fn_t&& fn,
                 std::size_t chunkSize = 64) {
  parallelChunks(n, chunkSize, nThreads,
                 [&](std::size_t, std::size_t begin, std::size_t end) {
                   for (std::size_t i = begin; i < end; ++i) {
                     fn(i);
                   }
                 });
}

/// Ordered gather: fn(begin, end, out) appends the results of items
/// [begin, end) to `out` (a std::vector<value_t>); the per-chunk vectors are
/// concatenated in chunk order, so the result equals the serial loop's for
/// any nThreads.
template <typename value_t, typename fn_t>
std::vector<value_t> parallelCollect(std::size_t n, std::size_t chunkSize,
                                     unsigned nThreads, fn_t&& fn) {
  chunkSize = std::max<std::size_t>(chunkSize, 1);
  const std::size_t nChunks = (n + chunkSize - 1) / chunkSize;
  std::vector<std::vector<value_t>> parts(nChunks);
  parallelChunks(n, chunkSize, nThreads,
                 [&](std::size_t c, std::size_t begin, std::size_t end) {
                   fn(begin, end, parts[c]);
                 });
  std::size_t total = 0;
  for (const auto& p : parts) {
    total += p.size();
  }
  std::vector<value_t> out;
  out.reserve(total);
  for (auto& p : parts) {
    out.insert(out.end(), std::make_move_iterator(p.begin()),
               std::make_move_iterator(p.end()));
    std::vector<value_t>().swap(p);
  }
  return out;
}

}  // namespace helixkit
