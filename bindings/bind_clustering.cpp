#include "helixkit/Clustering/Dbscan.hpp"
#include "helixkit/Clustering/PixelClustering.hpp"
#include "pybind.hpp"

namespace {

using helixkit::Dbscan;
using helixkit::PixelClusterizer;
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

template <typename value_t>
py::tuple clusterPixels(const CArray<std::int64_t>& module,
                        const CArray<std::int32_t>& row,
                        const CArray<std::int32_t>& col,
                        const CArray<value_t>& charge,
                        const PixelClusterizer::Config& cfg) {
  const auto mod = requireVector(module, "module");
  const auto r = requireVector(row, "row", mod.size());
  const auto c = requireVector(col, "col", mod.size());
  const auto q = requireVector(charge, "charge", mod.size());
  PixelClusterizer::Clusters res;
  {
    py::gil_scoped_release release;
    res = PixelClusterizer(cfg).cluster<value_t>(mod, r, c, q);
  }
  return py::make_tuple(toNumpy(std::move(res.labels)),
                        toNumpy(std::move(res.module)),
                        toNumpy(std::move(res.size)),
                        toNumpy(std::move(res.sizeRow)),
                        toNumpy(std::move(res.sizeCol)),
                        toNumpy(std::move(res.charge)),
                        toNumpy(std::move(res.row)),
                        toNumpy(std::move(res.col)));
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

  using PixCfg = PixelClusterizer::Config;
  py::class_<PixCfg>(m, "PixelClusterizerConfig")
      .def(py::init<>())
      .def_readwrite("connectivity", &PixCfg::connectivity)
      .def_readwrite("n_threads", &PixCfg::nThreads)
      .def("validate", &PixCfg::validate);
  const char* pixelDoc =
      "Connected components of fired pixels per module -> (labels, module, "
      "size, size_row, size_col, charge, row, col).";
  m.def("cluster_pixels", &clusterPixels<float>, py::arg("module").noconvert(),
        py::arg("row").noconvert(), py::arg("col").noconvert(),
        py::arg("charge").noconvert(), py::arg("config"), pixelDoc);
  m.def("cluster_pixels", &clusterPixels<double>, py::arg("module").noconvert(),
        py::arg("row").noconvert(), py::arg("col").noconvert(),
        py::arg("charge").noconvert(), py::arg("config"), pixelDoc);
}
