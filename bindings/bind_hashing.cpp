#include "pybind.hpp"

void bindHashing(py::module_& m) {
  // Filled by the hashing kernel.
  (void)m;
}
