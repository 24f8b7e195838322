#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "helixkit/Seeding/AnnoyForest.hpp"
#include "helixkit/Seeding/HashingSeeder.hpp"
#include "pybind.hpp"

namespace {

using helixkit::AnnoyForest;
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

/// points as a C-contiguous float32 (n, d) array: float32 used as is (made
/// contiguous if needed), float64 converted once, anything else rejected.
CArray<float> annoyPoints(const py::object& points) {
  const py::array arr = py::array::ensure(points);
  if (!arr) {
    throw std::invalid_argument("points must be a numpy array");
  }
  const py::dtype dt = arr.dtype();
  if (dt.kind() != 'f' || (dt.itemsize() != 4 && dt.itemsize() != 8)) {
    throw std::invalid_argument(
        "points must be float32 or float64, got dtype " +
        py::str(static_cast<py::handle>(dt)).cast<std::string>());
  }
  if (arr.ndim() != 2 || arr.shape(1) == 0) {
    throw std::invalid_argument(
        "points must have shape (n, d) with d >= 1, got shape " +
        py::str(arr.attr("shape")).cast<std::string>());
  }
  // forcecast: float64 -> float32 is a "same kind" cast numpy would refuse.
  using Converted =
      py::array_t<float, py::array::c_style | py::array::forcecast>;
  const Converted converted = Converted::ensure(arr);
  if (!converted) {
    throw std::invalid_argument("points could not be converted to float32");
  }
  return CArray<float>::ensure(converted);  // already float32, C order
}

/// Query items as uint32 indices < n, from any integer dtype.
std::vector<std::uint32_t> annoyItems(const py::object& items, std::size_t n) {
  const py::array arr = py::array::ensure(items);
  if (!arr) {
    throw std::invalid_argument("items must be a 1-D integer array");
  }
  const char kind = arr.dtype().kind();
  if (kind != 'i' && kind != 'u') {
    throw std::invalid_argument(
        "items must be a 1-D integer array, got dtype " +
        py::str(static_cast<py::handle>(arr.dtype())).cast<std::string>());
  }
  if (arr.ndim() != 1) {
    throw std::invalid_argument("items must be a 1-D integer array, got ndim=" +
                                std::to_string(arr.ndim()));
  }
  auto bad = [n](std::size_t i, const std::string& value) {
    return std::invalid_argument("items[" + std::to_string(i) + "] (=" + value +
                                 ") must be in [0, " + std::to_string(n) +
                                 ")");
  };
  std::vector<std::uint32_t> out(static_cast<std::size_t>(arr.shape(0)));
  if (kind == 'u') {
    using U64 = py::array_t<std::uint64_t,
                            py::array::c_style | py::array::forcecast>;
    const auto a = U64::ensure(arr);
    for (std::size_t i = 0; i < out.size(); ++i) {
      const std::uint64_t v = a.data()[i];
      if (v >= n) {
        throw bad(i, std::to_string(v));
      }
      out[i] = static_cast<std::uint32_t>(v);
    }
  } else {
    using I64 = py::array_t<std::int64_t,
                            py::array::c_style | py::array::forcecast>;
    const auto a = I64::ensure(arr);
    for (std::size_t i = 0; i < out.size(); ++i) {
      const std::int64_t v = a.data()[i];
      if (v < 0 || static_cast<std::uint64_t>(v) >= n) {
        throw bad(i, std::to_string(v));
      }
      out[i] = static_cast<std::uint32_t>(v);
    }
  }
  return out;
}

/// Positions only (no variances): what the bucket construction reads.
TripletSeeder::SpacePoints positions(const CArray<float>& x,
                                     const CArray<float>& y,
                                     const CArray<float>& z) {
  const auto sx = requireVector(x, "x");
  const std::size_t n = sx.size();
  return {sx, requireVector(y, "y", n), requireVector(z, "z", n), {}, {}};
}

HashingSeeder::BucketConfig::Metric metricOf(const std::string& metric) {
  if (metric == "phi") {
    return HashingSeeder::BucketConfig::Metric::Phi;
  }
  if (metric == "phi_eta") {
    return HashingSeeder::BucketConfig::Metric::PhiEta;
  }
  throw std::invalid_argument("metric (='" + metric +
                              "') must be 'phi' or 'phi_eta'");
}

constexpr const char* kAnnoyForestDoc =
    "Annoy's random-projection forest (two-means splits), Euclidean metric,\n"
    "implemented in C++: build once, then answer many item queries per call.\n"
    "\n"
    "Parameters\n"
    "----------\n"
    "points : (n, d) array of float32 or float64\n"
    "    Finite coordinates; float64 is converted to float32 once.\n"
    "n_trees : int\n"
    "    Number of trees (>= 1).\n"
    "seed : int\n"
    "    Seed of the per-tree random streams; the forest depends on nothing "
    "else.\n"
    "leaf_size : int\n"
    "    Most items per leaf; 0 = automatic.\n"
    "n_threads : int\n"
    "    Build threads (trees in parallel); 0 = all cores. The forest does "
    "not\n"
    "    depend on it.";

constexpr const char* kQueryItemsDoc =
    "Approximate k nearest neighbours of stored items (each item included).\n"
    "\n"
    "Parameters\n"
    "----------\n"
    "items : 1-D array of int\n"
    "    Query item indices, any integer dtype, each in [0, size).\n"
    "k : int\n"
    "    Neighbours per query (>= 1); min(k, size) are returned.\n"
    "search_k : int\n"
    "    Candidates inspected per query; <= 0 means n_trees * k (Annoy's "
    "default).\n"
    "n_threads : int\n"
    "    Query threads; 0 = all cores. The result does not depend on it.\n"
    "sorted : bool\n"
    "    False: each row holds the same neighbours in an unspecified (but\n"
    "    deterministic) order, without the final sort (faster).\n"
    "\n"
    "Returns\n"
    "-------\n"
    "(len(items), min(k, size)) uint32 array, each row sorted by (distance, "
    "index) unless sorted is False.";

double seconds(std::chrono::steady_clock::time_point a,
               std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

void bindHashing(py::module_& m) {
  py::class_<AnnoyForest>(m, "AnnoyForest", kAnnoyForestDoc)
      .def(py::init([](const py::object& points, std::int64_t nTrees,
                       std::uint64_t seed, std::size_t leafSize,
                       unsigned nThreads) {
             if (nTrees < 1) {
               throw std::invalid_argument("n_trees (=" +
                                           std::to_string(nTrees) +
                                           ") must be >= 1");
             }
             const CArray<float> arr = annoyPoints(points);
             const auto view = requireRows(arr, "points");
             AnnoyForest::Config cfg;
             cfg.nTrees = static_cast<std::size_t>(nTrees);
             cfg.seed = seed;
             cfg.leafSize = leafSize;
             py::gil_scoped_release release;
             return std::make_unique<AnnoyForest>(view.span, view.cols, cfg,
                                                  nThreads);
           }),
           py::arg("points"), py::arg("n_trees") = 2,
           py::arg("seed") = 123456789, py::arg("leaf_size") = 0,
           py::arg("n_threads") = 1)
      .def(
          "query_items",
          [](const AnnoyForest& forest, const py::object& items,
             std::int64_t k, std::int64_t searchK, unsigned nThreads,
             bool sorted) {
            if (k < 1) {
              throw std::invalid_argument("k (=" + std::to_string(k) +
                                          ") must be >= 1");
            }
            const auto q = annoyItems(items, forest.size());
            const std::size_t kk =
                std::min(static_cast<std::size_t>(k), forest.size());
            std::vector<std::uint32_t> out;
            {
              py::gil_scoped_release release;
              out = forest.queryItems(q, static_cast<std::size_t>(k), searchK,
                                      nThreads, sorted);
            }
            if (kk == 0) {
              const auto rows = static_cast<py::ssize_t>(q.size());
              return py::array_t<std::uint32_t>(
                  std::vector<py::ssize_t>{rows, 0});
            }
            return toNumpy2D(std::move(out), kk);
          },
          py::arg("items"), py::arg("k"), py::arg("search_k") = -1,
          py::arg("n_threads") = 0, py::arg("sorted") = true, kQueryItemsDoc)
      .def_property_readonly("size", &AnnoyForest::size)
      .def_property_readonly("dim", &AnnoyForest::dim)
      .def_property_readonly("n_trees", &AnnoyForest::nTrees)
      .def_property_readonly("n_nodes", &AnnoyForest::nNodes)
      .def_property_readonly("leaf_size", &AnnoyForest::leafSize);

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
      "hashing_annoy_buckets",
      [](const CArray<float>& x, const CArray<float>& y, const CArray<float>& z,
         const CArray<std::uint32_t>& queries, std::size_t bucketSize,
         const std::string& metric, std::size_t phiBins, std::size_t zBins,
         std::size_t nTrees, std::uint64_t seed, std::int64_t searchK,
         std::size_t leafSize, float layerRMin, float layerRMax,
         float layerZMax, unsigned nThreads) {
        const auto sps = positions(x, y, z);
        const auto q = requireVector(queries, "queries");
        if (q.empty()) {
          throw std::invalid_argument("queries must not be empty");
        }
        HashingSeeder::BucketConfig cfg;
        cfg.bucketSize = bucketSize;
        cfg.metric = metricOf(metric);
        cfg.phiBins = phiBins;
        cfg.zBins = zBins;
        cfg.nTrees = nTrees;
        cfg.seed = seed;
        cfg.searchK = searchK;
        cfg.leafSize = leafSize;
        cfg.layerRMin = layerRMin;
        cfg.layerRMax = layerRMax;
        cfg.layerZMax = layerZMax;
        HashingSeeder::Buckets b;
        HashingSeeder::BucketTiming t;
        {
          py::gil_scoped_release release;
          b = HashingSeeder::annoyBuckets(sps, cfg, q, nThreads, &t);
        }
        return py::make_tuple(toNumpy(std::move(b.offsets)),
                              toNumpy(std::move(b.indices)),
                              toNumpy(std::move(b.cells)), t.train, t.query,
                              t.buckets);
      },
      py::arg("x").noconvert(), py::arg("y").noconvert(),
      py::arg("z").noconvert(), py::arg("queries").noconvert(),
      py::arg("bucket_size"), py::arg("metric"), py::arg("phi_bins"),
      py::arg("z_bins"), py::arg("n_trees"), py::arg("seed"),
      py::arg("search_k"), py::arg("leaf_size"), py::arg("layer_r_min"),
      py::arg("layer_r_max"), py::arg("layer_z_max"), py::arg("n_threads"),
      "Annoy buckets in one native call (HashingSeeder::annoyBuckets): "
      "(offsets uint64, indices uint32, cells int64, train_s, query_s, "
      "buckets_s).");

  m.def(
      "hashing_query_layer",
      [](const CArray<float>& x, const CArray<float>& y, const CArray<float>& z,
         float layerRMin, float layerRMax, float layerZMax) {
        HashingSeeder::BucketConfig cfg;
        cfg.layerRMin = layerRMin;
        cfg.layerRMax = layerRMax;
        cfg.layerZMax = layerZMax;
        return toNumpy(HashingSeeder::queryLayer(positions(x, y, z), cfg));
      },
      py::arg("x").noconvert(), py::arg("y").noconvert(),
      py::arg("z").noconvert(), py::arg("layer_r_min"), py::arg("layer_r_max"),
      py::arg("layer_z_max"),
      "Indices (uint32) of the space points with layer_r_min <= r <= "
      "layer_r_max and |z| <= layer_z_max (HashingSeeder::queryLayer).");

  m.def(
      "hashing_embedding",
      [](const CArray<float>& x, const CArray<float>& y, const CArray<float>& z,
         const std::string& metric) {
        const auto m = metricOf(metric);
        const std::size_t dim =
            m == HashingSeeder::BucketConfig::Metric::Phi ? 2 : 3;
        return toNumpy2D(HashingSeeder::embedding(positions(x, y, z), m), dim);
      },
      py::arg("x").noconvert(), py::arg("y").noconvert(),
      py::arg("z").noconvert(), py::arg("metric"),
      "(n, 2) or (n, 3) float32 embedding of the metric: cos phi, sin phi "
      "[, eta] (HashingSeeder::embedding).");

  m.def(
      "hashing_query_cells",
      [](const CArray<float>& x, const CArray<float>& y, const CArray<float>& z,
         const CArray<std::uint32_t>& queries, std::size_t phiBins,
         std::size_t zBins, float layerZMax) {
        const auto sps = positions(x, y, z);
        const auto q = requireVector(queries, "queries");
        for (const auto i : q) {
          if (i >= sps.size()) {
            throw std::invalid_argument("query index " + std::to_string(i) +
                                        " must be < " +
                                        std::to_string(sps.size()));
          }
        }
        HashingSeeder::BucketConfig cfg;
        cfg.phiBins = phiBins;
        cfg.zBins = zBins;
        cfg.layerZMax = layerZMax;
        cfg.validate();
        return toNumpy(HashingSeeder::queryCells(sps, q, cfg));
      },
      py::arg("x").noconvert(), py::arg("y").noconvert(),
      py::arg("z").noconvert(), py::arg("queries").noconvert(),
      py::arg("phi_bins"), py::arg("z_bins"), py::arg("layer_z_max"),
      "Cell of each query point, phi bin * max(z_bins, 1) + z bin "
      "(HashingSeeder::queryCells).");

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
