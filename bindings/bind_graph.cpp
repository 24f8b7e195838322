#include "pybind.hpp"

void bindGraph(py::module_& m) {
  // Filled by the graph kernel.
  (void)m;
}
