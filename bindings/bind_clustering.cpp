#include "pybind.hpp"

void bindClustering(py::module_& m) {
  // Filled by the clustering kernel.
  (void)m;
}
