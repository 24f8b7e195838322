// Links helixkit::core from an installed tree and runs a few kernels, as an
// ACTS-style C++ chain would.
#include <cstdio>
#include <vector>

#include "helixkit/Clustering/Dbscan.hpp"
#include "helixkit/Definitions/Units.hpp"
#include "helixkit/Graph/NeighborGraph.hpp"
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

  // Points on a line: every point's nearest neighbours are its two sides.
  std::vector<float> pts;
  for (int i = 0; i < 100; ++i) {
    pts.push_back(static_cast<float>(i));
    pts.push_back(0.0f);
  }
  helixkit::NeighborGraph::Config cfg;
  cfg.k = 2;
  const auto edges = helixkit::NeighborGraph::knn<float>(pts, {}, 2, cfg);
  helixkit::Dbscan::Config dcfg;
  dcfg.epsilon = 1.5;
  dcfg.minPoints = 2;
  const auto labels = helixkit::Dbscan(dcfg).cluster<float>(pts, 2);
  std::printf("kNN edges: %zu, DBSCAN label of the last point: %d\n", edges.size(),
              labels.back());
  const bool ok = r1GeV > 1667.0 && r1GeV < 1669.0 && edges.size() == 200 &&
                  labels.back() == 0;
  return ok ? 0 : 1;
}
