#include "helixkit/Clustering/Dbscan.hpp"
#include "pybind.hpp"

namespace {

using helixkit::Dbscan;
using namespace helixkit::python;

template <typename value_t>
py::array_t<std::int32_t> dbscanPoints(const CArray<value_t>& points,
                                       const Dbscan::Config& cfg) {
  const auto pts = requireRows(points, "x");
  std::vector<std::int32_t> labels;
  {
    py::gil_scoped_release release;
    labels = Dbscan(cfg).cluster<value_t>(pts.span, pts.cols);
  }
  return toNumpy(std::move(labels));
}

template <typename value_t>
py::array_t<std::int32_t> dbscanGraph(const CArray<std::int64_t>& offsets,
                                      const CArray<std::int64_t>& neighbors,
                                      const CArray<value_t>& distances,
                                      const Dbscan::Config& cfg) {
  const auto off = requireVector(offsets, "offsets");
  const auto nb = requireVector(neighbors, "neighbors");
  const auto d = requireVector(distances, "distances", nb.size());
  std::vector<std::int32_t> labels;
  {
    py::gil_scoped_release release;
    labels = Dbscan(cfg).clusterGraph<value_t>(off, nb, d);
  }
  return toNumpy(std::move(labels));
}

}  // namespace

void bindClustering(py::module_& m) {
  using Cfg = Dbscan::Config;
  py::class_<Cfg>(m, "DbscanConfig")
      .def(py::init<>())
      .def_readwrite("epsilon", &Cfg::epsilon)
      .def_readwrite("min_points", &Cfg::minPoints)
      .def_readwrite("n_threads", &Cfg::nThreads)
      .def("validate", &Cfg::validate);
  m.def("dbscan", &dbscanPoints<float>, py::arg("x").noconvert(), py::arg("config"));
  m.def("dbscan", &dbscanPoints<double>, py::arg("x").noconvert(), py::arg("config"));
  m.def("dbscan_graph", &dbscanGraph<float>, py::arg("offsets").noconvert(),
        py::arg("neighbors").noconvert(), py::arg("distances").noconvert(),
        py::arg("config"));
  m.def("dbscan_graph", &dbscanGraph<double>, py::arg("offsets").noconvert(),
        py::arg("neighbors").noconvert(), py::arg("distances").noconvert(),
        py::arg("config"));
}
