#include "pybind.hpp"

void bindFitting(py::module_& m) {
  // Filled by the fitting kernel.
  (void)m;
}
