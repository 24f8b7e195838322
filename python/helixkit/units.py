"""Units in ACTS's native convention.

Lengths are in mm, energies and momenta in GeV, charge in units of e, and the
magnetic field in GeV/(e*mm), so that a helix radius is simply
``R = pT / (|q| * B)`` in mm (1 GeV in 2 T gives R ~ 1668 mm). Always write the
unit explicitly::

    from helixkit import units as u
    min_pt = 500 * u.MeV
    b_field_z = 2 * u.T
"""

from __future__ import annotations

# Length
mm = 1.0
um = 1e-3 * mm
nm = 1e-6 * mm
cm = 10.0 * mm
m = 1e3 * mm
# Time, in mm/c as in ACTS
s = 299792458000.0
ns = 1e-9 * s
ps = 1e-12 * s
# Angle
rad = 1.0
mrad = 1e-3 * rad
# Energy, momentum, mass
GeV = 1.0
MeV = 1e-3 * GeV
keV = 1e-6 * GeV
eV = 1e-9 * GeV
TeV = 1e3 * GeV
# Charge
e = 1.0
# Magnetic field: 1 T = 0.000299792458 GeV/(e*mm)
T = 0.000299792458
Gauss = 1e-4 * T
kGauss = 1e-1 * T

__all__ = [
    "GeV", "Gauss", "MeV", "T", "TeV", "cm", "e", "eV", "kGauss", "keV", "m", "mm",
    "mrad", "nm", "ns", "ps", "rad", "s", "um",
]


def helix_radius(pt: float, b_field_z: float, charge: float = 1.0) -> float:
    """Helix radius in mm of a particle with transverse momentum ``pt`` (GeV) in ``b_field_z``."""
    return pt / (abs(charge) * abs(b_field_z))
