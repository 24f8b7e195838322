// Links helixkit::core from an installed tree and runs a few kernels.
#include <cstdio>
#include <vector>

#include "helixkit/Definitions/Units.hpp"
#include "helixkit/Utilities/ParallelFor.hpp"

int main() {
  namespace u = helixkit::UnitConstants;
  std::vector<double> radius(1000);
  helixkit::parallelFor(radius.size(), 0, [&](std::size_t i) {
    const double pt = (0.5 + 0.01 * static_cast<double>(i)) * u::GeV;
    radius[i] = pt / (2.0 * u::T);
  });
  const double r1GeV = radius[50];
  std::printf("helix radius of 1 GeV in 2 T: %.2f mm\n", r1GeV);
  return (r1GeV > 1667.0 && r1GeV < 1669.0) ? 0 : 1;
}
