#include "pybind.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "helixkit native kernels (internal; use the helixkit.* modules)";
  bindUnits(m);
  bindUtilities(m);
  bindSeeding(m);
  bindHashing(m);
  bindGraph(m);
  bindClustering(m);
  bindFitting(m);
  bindFinding(m);
  bindIo(m);
}
