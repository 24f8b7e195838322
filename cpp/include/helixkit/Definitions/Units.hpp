#pragma once

/// @file Units.hpp
/// ACTS's native unit system: mm, GeV, elementary charge. Magnetic field is
/// expressed in GeV/(e*mm) so that the helix radius is R = pT / (|q| B) in mm
/// without any conversion factor (1 GeV in 2 T gives R ~ 1668 mm).

namespace helixkit::UnitConstants {

// Length
constexpr double mm = 1.0;
constexpr double um = 1e-3 * mm;
constexpr double nm = 1e-6 * mm;
constexpr double cm = 10.0 * mm;
constexpr double m = 1e3 * mm;
// Time, in mm/c as in ACTS
constexpr double s = 299792458000.0;
constexpr double ns = 1e-9 * s;
constexpr double ps = 1e-12 * s;
// Angles
constexpr double rad = 1.0;
constexpr double mrad = 1e-3 * rad;
// Energy, momentum, mass
constexpr double GeV = 1.0;
constexpr double MeV = 1e-3 * GeV;
constexpr double keV = 1e-6 * GeV;
constexpr double eV = 1e-9 * GeV;
constexpr double TeV = 1e3 * GeV;
// Charge
constexpr double e = 1.0;
// Magnetic field: 1 T = 0.000299792458 GeV/(e*mm)
constexpr double T = 0.000299792458;
constexpr double Gauss = 1e-4 * T;
constexpr double kGauss = 1e-1 * T;

}  // namespace helixkit::UnitConstants
