#include "helixkit/Graph/MaxNormNeighbors.hpp"
#include "helixkit/Graph/NeighborGraph.hpp"
#include "pybind.hpp"

namespace {

using helixkit::NeighborGraph;
using namespace helixkit::python;

template <typename value_t>
py::tuple edgesToNumpy(helixkit::NeighborEdges<value_t>&& e) {
  const std::size_t n = e.size();
  auto idx = n == 0 ? py::array_t<std::int64_t>(std::vector<py::ssize_t>{2, 0})
                    : toNumpy2D(std::move(e.index), n);
  return py::make_tuple(idx, toNumpy(std::move(e.distance)));
}

template <typename value_t, bool isRadius>
py::tuple runGraph(const CArray<value_t>& points, const py::object& query,
                   const NeighborGraph::Config& cfg) {
  const auto pts = requireRows(points, "x");
  std::span<const value_t> q;
  CArray<value_t> qarr;
  if (!query.is_none()) {
    qarr = query.cast<CArray<value_t>>();
    const auto qv = requireRows(qarr, "query");
    if (qv.cols != pts.cols) {
      throw std::invalid_argument("query has " + std::to_string(qv.cols) +
                                  " columns but x has " + std::to_string(pts.cols));
    }
    if (qv.rows == 0) {
      return edgesToNumpy(helixkit::NeighborEdges<value_t>{});
    }
    q = qv.span;
  }
  helixkit::NeighborEdges<value_t> edges;
  {
    py::gil_scoped_release release;
    if constexpr (isRadius) {
      edges = NeighborGraph::radius<value_t>(pts.span, q, pts.cols, cfg);
    } else {
      edges = NeighborGraph::knn<value_t>(pts.span, q, pts.cols, cfg);
    }
  }
  return edgesToNumpy(std::move(edges));
}

using helixkit::MaxNormNeighbors;

template <typename value_t>
py::array_t<value_t> kthDistance(const CArray<value_t>& points,
                                 const MaxNormNeighbors::Config& cfg) {
  const auto pts = requireRows(points, "points");
  std::vector<value_t> out;
  {
    py::gil_scoped_release release;
    out = MaxNormNeighbors::kthDistance<value_t>(pts.span, pts.cols, cfg);
  }
  return toNumpy(std::move(out));
}

template <typename value_t>
py::array_t<std::uint32_t> countWithin(const CArray<value_t>& points,
                                       const CArray<value_t>& radius,
                                       const MaxNormNeighbors::Config& cfg) {
  const auto pts = requireRows(points, "points");
  const auto r = requireVector(radius, "radius", pts.rows);
  std::vector<std::uint32_t> out;
  {
    py::gil_scoped_release release;
    out = MaxNormNeighbors::countWithin<value_t>(pts.span, pts.cols, r, cfg);
  }
  return toNumpy(std::move(out));
}

template <typename value_t>
py::tuple ksgCounts(const CArray<value_t>& x, const CArray<value_t>& y,
                    const MaxNormNeighbors::Config& cfg) {
  const auto xv = requireRows(x, "x");
  const auto yv = requireRows(y, "y");
  helixkit::KsgCounts<value_t> out;
  {
    py::gil_scoped_release release;
    out = MaxNormNeighbors::ksg<value_t>(xv.span, xv.cols, yv.span, yv.cols, cfg);
  }
  return py::make_tuple(toNumpy(std::move(out.radius)), toNumpy(std::move(out.nx)),
                        toNumpy(std::move(out.ny)));
}

}  // namespace

void bindGraph(py::module_& m) {
  using Cfg = NeighborGraph::Config;
  py::class_<Cfg>(m, "NeighborGraphConfig")
      .def(py::init<>())
      .def_readwrite("k", &Cfg::k)
      .def_readwrite("radius", &Cfg::radius)
      .def_readwrite("max_neighbors", &Cfg::maxNeighbors)
      .def_readwrite("loop", &Cfg::loop)
      .def_readwrite("n_threads", &Cfg::nThreads)
      .def_readwrite("leaf_size", &Cfg::leafSize)
      // kNN search: 0 = auto, 1 = k-d tree, 2 = brute force
      .def_property(
          "algorithm", [](const Cfg& c) { return static_cast<int>(c.algorithm); },
          [](Cfg& c, int a) {
            if (a < 0 || a > 2) {
              throw py::value_error("NeighborGraphConfig.algorithm (=" + std::to_string(a) +
                                    ") must be 0 (auto), 1 (k-d tree) or 2 (brute force)");
            }
            c.algorithm = static_cast<Cfg::Algorithm>(a);
          })
      .def_property_readonly_static(
          "brute_force_min_dim",
          [](const py::object&) { return NeighborGraph::kBruteForceMinDim; })
      .def("validate", [](const Cfg&) {});
  m.def("knn_graph", &runGraph<float, false>, py::arg("x").noconvert(),
        py::arg("query"), py::arg("config"));
  m.def("knn_graph", &runGraph<double, false>, py::arg("x").noconvert(),
        py::arg("query"), py::arg("config"));
  m.def("radius_graph", &runGraph<float, true>, py::arg("x").noconvert(),
        py::arg("query"), py::arg("config"));
  m.def("radius_graph", &runGraph<double, true>, py::arg("x").noconvert(),
        py::arg("query"), py::arg("config"));

  using MCfg = MaxNormNeighbors::Config;
  py::class_<MCfg>(m, "MaxNormNeighborsConfig")
      .def(py::init<>())
      .def_readwrite("k", &MCfg::k)
      .def_readwrite("strict", &MCfg::strict)
      .def_readwrite("n_threads", &MCfg::nThreads)
      .def_readwrite("leaf_size", &MCfg::leafSize)
      .def("validate", &MCfg::validate);
  m.def("max_norm_kth_distance", &kthDistance<double>, py::arg("points").noconvert(),
        py::arg("config"),
        "Max-norm distance of each row to its k-th nearest other row.");
  m.def("max_norm_kth_distance", &kthDistance<float>, py::arg("points").noconvert(),
        py::arg("config"));
  m.def("max_norm_count_within", &countWithin<double>, py::arg("points").noconvert(),
        py::arg("radius").noconvert(), py::arg("config"),
        "Number of other rows within radius[i] of row i (max-norm).");
  m.def("max_norm_count_within", &countWithin<float>, py::arg("points").noconvert(),
        py::arg("radius").noconvert(), py::arg("config"));
  m.def("ksg_counts", &ksgCounts<double>, py::arg("x").noconvert(),
        py::arg("y").noconvert(), py::arg("config"),
        "KSG estimator-1 counts: (joint k-th-neighbour radius, n_x, n_y).");
  m.def("ksg_counts", &ksgCounts<float>, py::arg("x").noconvert(),
        py::arg("y").noconvert(), py::arg("config"));
}
