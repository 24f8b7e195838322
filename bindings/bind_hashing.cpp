#include <chrono>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "helixkit/Seeding/HashingSeeder.hpp"
#include "pybind.hpp"

namespace {

using helixkit::HashingSeeder;
using helixkit::TripletSeeder;
using helixkit::python::CArray;
using helixkit::python::requireRows;
using helixkit::python::requireVector;
using helixkit::python::toNumpy;
using helixkit::python::toNumpy2D;

template <typename T>
std::vector<T> copyOf(const CArray<T>& a, const char* name) {
  const auto s = requireVector(a, name);
  return {s.begin(), s.end()};
}

double seconds(std::chrono::steady_clock::time_point a,
               std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

void bindHashing(py::module_& m) {
  m.def(
      "hashing_exact_phi_neighbours",
      [](const CArray<double>& phi, const CArray<std::uint32_t>& queries,
         std::size_t k) {
        const auto p = requireVector(phi, "phi");
        const auto q = requireVector(queries, "queries");
        std::vector<std::uint32_t> out;
        {
          py::gil_scoped_release release;
          out = HashingSeeder::exactPhiNeighbours(p, q, k);
        }
        return toNumpy(std::move(out));
      },
      py::arg("phi").noconvert(), py::arg("queries").noconvert(), py::arg("k"),
      "Exact k nearest neighbours in periodic phi, flat (query-major), uint32.");

  m.def(
      "hashing_buckets",
      [](const CArray<std::uint32_t>& neighbours,
         const CArray<std::int64_t>& counts, const CArray<std::int64_t>& cells,
         std::size_t nPoints) {
        const auto nb = requireVector(neighbours, "neighbours");
        const auto c = requireVector(counts, "counts");
        const auto ce = requireVector(cells, "cells");
        HashingSeeder::Buckets b;
        {
          py::gil_scoped_release release;
          b = HashingSeeder::buildBuckets(nb, c, ce, nPoints);
        }
        return py::make_tuple(toNumpy(std::move(b.offsets)),
                              toNumpy(std::move(b.indices)),
                              toNumpy(std::move(b.cells)));
      },
      py::arg("neighbours").noconvert(), py::arg("counts").noconvert(),
      py::arg("cells").noconvert(), py::arg("n_points"),
      "Union of the neighbour lists per cell: (offsets uint64, indices uint32, "
      "cells int64) in compressed-row form.");

  m.def(
      "hashing_seed",
      [](const CArray<float>& x, const CArray<float>& y, const CArray<float>& z,
         const CArray<float>& varR, const CArray<float>& varZ,
         const CArray<std::uint64_t>& offsets,
         const CArray<std::uint32_t>& indices, const TripletSeeder::Config& cfg,
         unsigned nThreads) {
        const auto sx = requireVector(x, "x");
        const std::size_t n = sx.size();
        const TripletSeeder::SpacePoints sps{
            sx, requireVector(y, "y", n), requireVector(z, "z", n),
            requireVector(varR, "var_r", n), requireVector(varZ, "var_z", n)};
        HashingSeeder::Buckets b;
        b.offsets = copyOf(offsets, "offsets");
        b.indices = copyOf(indices, "indices");
        if (b.offsets.empty()) {
          throw std::invalid_argument("offsets must not be empty");
        }
        b.cells.assign(b.offsets.size() - 1, 0);
        TripletSeeder::Seeds merged;
        double tSeed = 0;
        double tMerge = 0;
        {
          py::gil_scoped_release release;
          const HashingSeeder hs(cfg);
          const auto t0 = std::chrono::steady_clock::now();
          const auto views = HashingSeeder::bucketViews(b);
          const auto perBucket =
              hs.seeder().createSeedsInBuckets(sps, views, nThreads);
          const auto t1 = std::chrono::steady_clock::now();
          merged = HashingSeeder::mergeSeeds(perBucket);
          const auto t2 = std::chrono::steady_clock::now();
          tSeed = seconds(t0, t1);
          tMerge = seconds(t1, t2);
        }
        return py::make_tuple(toNumpy2D(std::move(merged.triplets), 3),
                              toNumpy(std::move(merged.zVertex)),
                              toNumpy(std::move(merged.quality)), tSeed,
                              tMerge);
      },
      py::arg("x").noconvert(), py::arg("y").noconvert(),
      py::arg("z").noconvert(), py::arg("var_r").noconvert(),
      py::arg("var_z").noconvert(), py::arg("offsets").noconvert(),
      py::arg("indices").noconvert(), py::arg("config"), py::arg("n_threads"),
      "Triplet seeding in every bucket, merged and de-duplicated by indices: "
      "(triplets, z_vertex, quality, seeding_s, merge_s).");

  m.def(
      "hashing_merge",
      [](const CArray<std::int64_t>& triplets, const CArray<float>& zVertex,
         const CArray<float>& quality) {
        const auto t = requireRows(triplets, "triplets");
        if (t.cols != 3) {
          throw std::invalid_argument("triplets must have 3 columns, got " +
                                      std::to_string(t.cols));
        }
        std::vector<TripletSeeder::Seeds> one(1);
        one[0].triplets.assign(t.span.begin(), t.span.end());
        const auto zv = requireVector(zVertex, "z_vertex", t.rows);
        const auto q = requireVector(quality, "quality", t.rows);
        one[0].zVertex.assign(zv.begin(), zv.end());
        one[0].quality.assign(q.begin(), q.end());
        TripletSeeder::Seeds merged;
        {
          py::gil_scoped_release release;
          merged = HashingSeeder::mergeSeeds(one);
        }
        return py::make_tuple(toNumpy2D(std::move(merged.triplets), 3),
                              toNumpy(std::move(merged.zVertex)),
                              toNumpy(std::move(merged.quality)));
      },
      py::arg("triplets").noconvert(), py::arg("z_vertex").noconvert(),
      py::arg("quality").noconvert(),
      "De-duplicate concatenated seeds by (bottom, middle, top).");
}
