#include "helixkit/Utilities/ParallelFor.hpp"

namespace helixkit {

unsigned resolveThreads(unsigned nThreads) {
  if (nThreads != 0) {
    return nThreads;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1u : hw;
}

}  // namespace helixkit
