#include "helixkit/Definitions/Units.hpp"
#include "pybind.hpp"

void bindUnits(py::module_& m) {
  namespace u = helixkit::UnitConstants;
  auto units = m.def_submodule("units", "Native unit constants (ACTS convention)");
  units.attr("mm") = u::mm;
  units.attr("um") = u::um;
  units.attr("nm") = u::nm;
  units.attr("cm") = u::cm;
  units.attr("m") = u::m;
  units.attr("s") = u::s;
  units.attr("ns") = u::ns;
  units.attr("ps") = u::ps;
  units.attr("rad") = u::rad;
  units.attr("mrad") = u::mrad;
  units.attr("eV") = u::eV;
  units.attr("keV") = u::keV;
  units.attr("MeV") = u::MeV;
  units.attr("GeV") = u::GeV;
  units.attr("TeV") = u::TeV;
  units.attr("e") = u::e;
  units.attr("T") = u::T;
  units.attr("Gauss") = u::Gauss;
  units.attr("kGauss") = u::kGauss;
}
