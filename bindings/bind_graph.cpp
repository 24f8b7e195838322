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
      .def("validate", [](const Cfg&) {});
  m.def("knn_graph", &runGraph<float, false>, py::arg("x").noconvert(),
        py::arg("query"), py::arg("config"));
  m.def("knn_graph", &runGraph<double, false>, py::arg("x").noconvert(),
        py::arg("query"), py::arg("config"));
  m.def("radius_graph", &runGraph<float, true>, py::arg("x").noconvert(),
        py::arg("query"), py::arg("config"));
  m.def("radius_graph", &runGraph<double, true>, py::arg("x").noconvert(),
        py::arg("query"), py::arg("config"));
}
