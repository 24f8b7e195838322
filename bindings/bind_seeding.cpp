#include "pybind.hpp"

void bindSeeding(py::module_& m) {
  // Filled by the seeding kernel.
  (void)m;
}
