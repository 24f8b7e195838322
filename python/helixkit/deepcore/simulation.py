"""Jet-core simulation for DeepCore: high-pT jets, pile-up and a pixel-level sensor response.

One :class:`JetEvent` is the region of a :class:`~helixkit.deepcore.detector.PixelBarrel`
around one high-pT jet: its collimated charged fragments and the pile-up tracks near it,
propagated as helices through BPIX1-4 and rasterised into fired pixels with their ADC
counts, plus the truth of every layer crossing. The physics, in order:

1. **Primary vertex** from the beam spot: ``N(0, beam_sigma_xy)`` in x and y,
   ``N(0, beam_sigma_z)`` in z.
2. **Jet axis**: pT log-uniform in ``jet_pt``, η uniform in ``[-jet_eta_max, jet_eta_max]``,
   φ uniform.
3. **Fragmentation**: ``N_ch ~ Poisson(n_charged * (pT / 1 TeV) ** n_charged_slope)``
   charged particles (>= 1) sharing the charged fraction ``f_ch ~ N(charged_fraction,
   charged_fraction_sigma)`` (clipped to [0.2, 0.95]) of the jet pT. Momentum fractions are
   drawn from ``f(x) ∝ (1 - x) ** frag_exponent / x`` on ``[x_min, 1]`` and normalised to sum
   to ``f_ch``; ``x_min`` is solved for so that the softest fragment has ``min_pt``. The
   momentum transverse to the axis ``j_T`` is Rayleigh-distributed (scale ``jt_scale``), so
   a fragment lies at ``ΔR = R tanh(j_T / (pT_i R))`` from the axis (``R = jet_radius``) in a
   uniform direction in (η, φ): hard fragments hug the axis, and the core gets denser as the
   jet pT grows. Charges ±1 at random; pion mass.
4. **Pile-up**: ``Poisson(pileup_tracks)`` tracks per ``2 pileup_region x 2 pileup_region``
   box in (η, φ) around the jet axis (generated over a φ range widened by the largest
   bending to BPIX4, so soft tracks curling in are not missed), each from its own vertex
   on the beam spot, η uniform, pT from a Tsallis spectrum (T, n as in
   :mod:`helixkit.data.simulation`) in ``[pileup_pt_min, pileup_pt_max]``.
5. **Propagation**: exact helices in ``detector.b_field_z`` to the flat module planes,
   layer by layer (Newton's method on the plane equation, up to 3 candidate ladders per
   layer, so a track in a φ overlap crosses both modules); Highland multiple scattering
   at every crossed layer (``thickness_x0 / cos(incidence)``), when enabled.
6. **Sensor response** for each crossing: the straight path through the ``thickness`` of
   the sensor is cut into segments (``segments_per_pixel`` per pixel of its projection,
   >= 8). The total charge is ``charge_per_um x path length x (1 + landau_width x Y)``
   with ``Y`` standard Moyal (``-ln Z²``, ``Z ~ N(0, 1)``: a Landau-like long tail) and is
   split among the segments with Gamma(``segment_shape``) weights (local fluctuations).
   Each segment drifts to the readout face (``w = +thickness / 2``): Lorentz drift of
   ``lorentz_tan x drift distance`` along +r·φ and Gaussian diffusion with
   ``sigma = diffusion_sigma x sqrt(drift / thickness)``, integrated exactly over the pixel
   grid (a 3 x 3 stencil of error-function differences). Charge arriving outside the
   module is lost.
7. **Readout**: random noise pixels (occupancy ``noise`` on every module that a particle
   crosses, charge ``threshold + Exp(noise_charge)``), Gaussian electronic noise
   (``noise_electrons``) on every pixel, the threshold (``threshold``), and an 8-bit ADC
   ``adc = min(floor(charge / adc_gain), adc_saturation)``. Close tracks share pixels, so
   merged clusters appear because charge clouds overlap, as in a real detector.

Only the region around the jet is simulated: pixels elsewhere in the detector stay empty.
Jet *k* of :func:`simulate_jets` uses the k-th child of ``numpy.random.SeedSequence(seed)``,
so it is the same whatever ``n_jets`` is (``first_jet`` continues a run in chunks).
Charges are in electrons, lengths in mm, momenta in GeV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

from .. import units as u
from .._validation import require
from ..data.event import Table
from ..graph import PixelClusters, cluster_pixels
from .detector import PixelBarrel

_PION_MASS = 0.13957 * u.GeV
_TSALLIS_T, _TSALLIS_N = 0.16 * u.GeV, 7.0
_MIN_DEPOSIT = 50.0  # electrons: smaller per-particle shares are left out of ``deposits``


@dataclass(frozen=True)
class JetSimConfig:
    """Settings of :func:`simulate_jets` (mm, GeV, electrons; see the module docstring).

    Jets: ``jet_pt`` (min, max) [GeV], ``jet_eta_max``, ``n_charged`` (mean charged
    multiplicity at 1 TeV), ``n_charged_slope``, ``charged_fraction`` (+ ``_sigma``),
    ``frag_exponent`` (n in (1 - x)^n / x), ``min_pt`` (softest fragment), ``jt_scale``
    (Rayleigh scale of j_T), ``jet_radius``. Vertex: ``beam_sigma_xy``, ``beam_sigma_z``.
    Pile-up: ``pileup_tracks`` (mean per ``(2 pileup_region)²`` in η x φ), ``pileup_region``,
    ``pileup_pt_min``, ``pileup_pt_max``. ``multiple_scattering``. Sensor:
    ``charge_per_um`` (most probable e / µm), ``landau_width`` (Moyal scale / MPV),
    ``segment_shape``, ``lorentz_tan``, ``diffusion_sigma`` [mm after a full-thickness
    drift], ``segments_per_pixel``. Readout: ``noise_electrons``, ``threshold`` [e],
    ``adc_gain`` [e / count], ``adc_saturation`` [counts, <= 255], ``noise`` (noise-pixel
    occupancy), ``noise_charge`` [e].
    """

    jet_pt: tuple[float, float] = (500.0 * u.GeV, 3000.0 * u.GeV)
    jet_eta_max: float = 1.4
    n_charged: float = 26.0
    n_charged_slope: float = 0.3
    charged_fraction: float = 0.6
    charged_fraction_sigma: float = 0.1
    frag_exponent: float = 3.0
    min_pt: float = 1.0 * u.GeV
    jt_scale: float = 0.5 * u.GeV
    jet_radius: float = 0.4
    beam_sigma_xy: float = 0.010 * u.mm
    beam_sigma_z: float = 35.0 * u.mm
    pileup_tracks: float = 40.0
    pileup_region: float = 0.5
    pileup_pt_min: float = 0.3 * u.GeV
    pileup_pt_max: float = 20.0 * u.GeV
    multiple_scattering: bool = True
    charge_per_um: float = 80.0
    landau_width: float = 0.1
    segment_shape: float = 4.0
    lorentz_tan: float = 0.4
    diffusion_sigma: float = 0.007 * u.mm
    segments_per_pixel: float = 8.0
    noise_electrons: float = 175.0
    threshold: float = 1800.0
    adc_gain: float = 200.0
    adc_saturation: int = 255
    noise: float = 1e-5
    noise_charge: float = 1500.0

    def validate(self) -> None:
        lo, hi = self.jet_pt
        require(math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi, self, "jet_pt",
                "must be (min, max) GeV with 0 < min <= max")
        require(0 < self.jet_eta_max <= 3.0, self, "jet_eta_max", "must be in (0, 3]")
        require(self.n_charged > 0, self, "n_charged", "must be > 0")
        require(abs(self.n_charged_slope) <= 2, self, "n_charged_slope", "must be in [-2, 2]")
        require(0.2 <= self.charged_fraction <= 0.95, self, "charged_fraction",
                "must be in [0.2, 0.95]")
        require(0 <= self.charged_fraction_sigma <= 0.5, self, "charged_fraction_sigma",
                "must be in [0, 0.5]")
        require(0 <= self.frag_exponent <= 20, self, "frag_exponent", "must be in [0, 20]")
        require(0 < self.min_pt < lo, self, "min_pt", "must be > 0 GeV and below jet_pt[0]")
        require(self.jt_scale > 0, self, "jt_scale", "must be > 0 GeV")
        require(0 < self.jet_radius <= 1.5, self, "jet_radius", "must be in (0, 1.5]")
        require(self.beam_sigma_xy >= 0, self, "beam_sigma_xy", "must be >= 0 mm")
        require(0 <= self.beam_sigma_z <= 200, self, "beam_sigma_z", "must be in [0, 200] mm")
        require(math.isfinite(self.pileup_tracks) and self.pileup_tracks >= 0, self,
                "pileup_tracks", "must be finite and >= 0")
        require(0 < self.pileup_region <= 1.5, self, "pileup_region", "must be in (0, 1.5]")
        require(0 < self.pileup_pt_min < self.pileup_pt_max, self, "pileup_pt_min",
                "must be > 0 GeV and below pileup_pt_max")
        require(self.charge_per_um > 0, self, "charge_per_um", "must be > 0 electrons per µm")
        require(0 <= self.landau_width < 1, self, "landau_width", "must be in [0, 1)")
        require(self.segment_shape > 0, self, "segment_shape", "must be > 0")
        require(abs(self.lorentz_tan) < 3, self, "lorentz_tan", "must be in (-3, 3)")
        require(0 <= self.diffusion_sigma < 0.1, self, "diffusion_sigma",
                "must be in [0, 0.1) mm (is it in mm?)")
        require(1 <= self.segments_per_pixel <= 64, self, "segments_per_pixel",
                "must be in [1, 64]")
        require(self.noise_electrons >= 0, self, "noise_electrons", "must be >= 0 electrons")
        require(self.threshold > 0, self, "threshold", "must be > 0 electrons")
        require(self.adc_gain > 0, self, "adc_gain", "must be > 0 electrons per ADC count")
        require(int(self.adc_saturation) == self.adc_saturation
                and 1 <= self.adc_saturation <= 255, self, "adc_saturation",
                "must be an integer in [1, 255] (8-bit ADC)")
        require(self.threshold / self.adc_gain < self.adc_saturation, self, "adc_gain",
                "puts the threshold at or above the ADC saturation")
        require(0 <= self.noise < 0.01, self, "noise", "must be a pixel occupancy in [0, 0.01)")
        require(self.noise_charge >= 0, self, "noise_charge", "must be >= 0 electrons")


_FIELDS = {f.name for f in fields(JetSimConfig)}


def make_jet_config(config: JetSimConfig | None = None, **overrides: object) -> JetSimConfig:
    """``config`` (default :class:`JetSimConfig`) with ``overrides``; unknown names are a
    ``TypeError``, bad values a ``ValueError`` naming the field."""
    unknown = sorted(set(overrides) - _FIELDS)
    if unknown:
        msg = f"JetSimConfig has no field(s) {unknown}"
        raise TypeError(msg)
    cfg = replace(config or JetSimConfig(), **overrides)  # type: ignore[arg-type]
    if isinstance(cfg.jet_pt, (int, float)):
        cfg = replace(cfg, jet_pt=(float(cfg.jet_pt), float(cfg.jet_pt)))
    cfg = replace(cfg, jet_pt=tuple(float(v) for v in cfg.jet_pt))
    cfg.validate()
    return cfg


@dataclass(frozen=True)
class JetEvent:
    """One simulated jet region (see the module docstring).

    Attributes
    ----------
    detector : PixelBarrel
    config : JetSimConfig
    event_id : int
    jet_pt, jet_eta, jet_phi : float
        The jet axis [GeV, -, rad].
    vertex : (3,) float64
        The primary vertex [mm] (all jet fragments come from it).
    particles : Table
        ``particle_id`` (1 ... N; jet fragments first, by falling pT, then pile-up), ``pt``,
        ``eta``, ``phi`` (at production), ``q``, ``vx``, ``vy``, ``vz``, ``from_jet`` (bool).
    pixels : Table
        Fired pixels, sorted by (module, row, col): ``module`` int64, ``row``, ``col`` int32,
        ``adc`` uint8, ``charge`` float32 (collected electrons, with noise, before the
        ADC), ``particle_id`` int64 (the largest contributor; 0 for a noise pixel).
    deposits : Table
        Truth per (pixel, particle): ``pixel`` (row of ``pixels``), ``particle_id``,
        ``charge`` float32 [e] (shares below 50 e left out).
    crossings : Table
        Truth per (particle, crossed module), in the order of the particles and then of
        the path: ``particle_id``, ``layer`` (0 = BPIX1), ``module``, ``lx``, ``ly`` [mm]
        and ``row``, ``col`` (float pixel coordinates) on the sensor mid-plane, global
        ``x``, ``y``, ``z`` [mm], the direction ``eta``, ``phi`` and ``pt`` [GeV] there.
    """

    detector: PixelBarrel
    config: JetSimConfig
    event_id: int
    jet_pt: float
    jet_eta: float
    jet_phi: float
    vertex: np.ndarray
    particles: Table
    pixels: Table
    deposits: Table
    crossings: Table

    @property
    def n_pixels(self) -> int:
        return self.pixels.n_rows

    def calibrated_charge(self) -> np.ndarray:
        """Pixel charge as the readout measures it: ``adc * adc_gain`` [e] (float64)."""
        return self.pixels["adc"].astype(np.float64) * self.config.adc_gain

    def clusters(self) -> PixelClusters:
        """The pixel clusters (8-connectivity) of all modules, weighted by the calibrated
        charge (:func:`helixkit.graph.cluster_pixels`)."""
        p = self.pixels
        return cluster_pixels(p["module"], p["row"], p["col"], self.calibrated_charge())

    def cluster_particles(self, clusters: PixelClusters | None = None, *,
                          min_charge: float = 2000.0) -> np.ndarray:
        """(C,) int: how many particles deposit at least ``min_charge`` electrons in each
        cluster of ``clusters`` (default :meth:`clusters`); a cluster with 2 or more is a
        *merged* cluster."""
        cl = self.clusters() if clusters is None else clusters
        if len(cl.labels) != self.pixels.n_rows:
            msg = (f"clusters: {len(cl.labels)} labels for {self.pixels.n_rows} pixels; pass "
                   "clusters of this event's pixels")
            raise ValueError(msg)
        d = self.deposits
        lab = cl.labels[d["pixel"]].astype(np.int64)
        key = lab * (int(d["particle_id"].max(initial=0)) + 1) + d["particle_id"]
        uniq, inv = np.unique(key, return_inverse=True)
        q = np.bincount(inv.reshape(-1), weights=d["charge"], minlength=len(uniq))
        pid_span = int(d["particle_id"].max(initial=0)) + 1
        big = uniq[q >= min_charge] // pid_span
        return np.bincount(big, minlength=len(cl)).astype(np.int64)

    def validate(self) -> None:
        """``ValueError`` naming the field when the event is malformed (e.g. NaN charges)."""
        who = f"JetEvent {self.event_id}"
        need = {"pixels": ("module", "row", "col", "adc", "charge"),
                "crossings": ("particle_id", "layer", "module", "row", "col", "eta", "phi",
                              "pt"),
                "particles": ("particle_id", "pt", "eta", "phi", "q")}
        for table, cols in need.items():
            t = getattr(self, table)
            if not isinstance(t, Table):
                msg = f"{who}: {table} must be a helixkit.data.Table, got {type(t).__name__}"
                raise ValueError(msg)
            missing = [c for c in cols if c not in t.columns]
            if missing:
                msg = f"{who}: {table} lacks the column(s) {missing}"
                raise ValueError(msg)
        p = self.pixels
        if p["adc"].dtype != np.uint8:
            msg = f"{who}: pixels.adc must be uint8 (8-bit ADC), got {p['adc'].dtype}"
            raise ValueError(msg)
        q = np.asarray(p["charge"], np.float64)
        if q.size and not np.isfinite(q).all():
            bad = int(np.flatnonzero(~np.isfinite(q))[0])
            msg = f"{who}: pixels.charge[{bad}] (={q[bad]}) must be finite"
            raise ValueError(msg)
        for c in ("pt", "eta", "phi", "row", "col"):
            v = np.asarray(self.crossings[c], np.float64)
            if v.size and not np.isfinite(v).all():
                msg = f"{who}: crossings.{c} must be finite (found NaN or inf)"
                raise ValueError(msg)
        if p.n_rows:
            self.detector._check_module(p["module"])  # same package
        if not all(math.isfinite(v) for v in (self.jet_pt, self.jet_eta, self.jet_phi)):
            msg = f"{who}: the jet axis (pt, eta, phi) must be finite"
            raise ValueError(msg)


# --------------------------------------------------------------------------- helpers
def _wrap(phi: np.ndarray) -> np.ndarray:
    """Angles to [-pi, pi)."""
    return (np.asarray(phi) + np.pi) % (2 * np.pi) - np.pi


def _norm_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF (Abramowitz & Stegun 7.1.26 erf, |error| < 1.5e-7): numpy only."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                         + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.copysign(erf, x))


def _inverse_cdf(u01: np.ndarray, grid: np.ndarray, pdf_dlog: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling of a density tabulated per unit ln(x) on ``grid``."""
    lg = np.log(grid)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf_dlog[1:] + pdf_dlog[:-1]) * np.diff(lg))])
    cdf /= cdf[-1]
    return np.exp(np.interp(u01, cdf, lg))


def _fragment_pt(rng: np.random.Generator, jet_pt: float, n: int, cfg: JetSimConfig
                 ) -> np.ndarray:
    f_ch = float(np.clip(rng.normal(cfg.charged_fraction, cfg.charged_fraction_sigma), 0.2,
                         0.95))
    total = f_ch * jet_pt
    u01 = rng.random(n)
    x_min = min(cfg.min_pt / total, 0.5)
    for _ in range(5):  # x_min such that the softest fragment gets min_pt after normalising
        grid = np.geomspace(x_min, 1.0, 257)
        x = _inverse_cdf(u01, grid, (1.0 - grid) ** cfg.frag_exponent)
        x_min = min(cfg.min_pt * x.sum() / total, 0.5)
    pt = total * x / x.sum()
    return np.sort(np.maximum(pt, cfg.min_pt))[::-1]


def _tsallis_pt(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    grid = np.geomspace(lo, hi, 1025)
    mt = np.sqrt(grid**2 + _PION_MASS**2)
    # dN/dpT ∝ pT (1 + mT / (n T))^-n, per unit ln pT: pT² (...)
    pdf = grid**2 * (1.0 + mt / (_TSALLIS_N * _TSALLIS_T)) ** (-_TSALLIS_N)
    return _inverse_cdf(rng.random(n), grid, pdf)


def _max_bend(detector: PixelBarrel, pt_min: float) -> float:
    """The largest φ turn of a ``pt_min`` track between the beam line and the last layer."""
    r = float(detector.layer_table("radius").max())
    k = abs(detector.b_field_z) / pt_min
    return math.asin(min(1.0, 0.5 * r * k)) if k > 0 else 0.0


# --------------------------------------------------------------------------- propagation
def _cylinder_path(x0: np.ndarray, y0: np.ndarray, phi: np.ndarray, kappa: np.ndarray,
                   radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Transverse path length from (x0, y0), direction φ, curvature κ, to the first forward
    crossing of the cylinder of ``radius``, and whether there is one."""
    n = len(x0)
    s_out = np.zeros(n)
    ok = np.zeros(n, bool)
    straight = np.abs(kappa) * radius < 1e-3
    # nearly straight: the line's crossing, bent half-way (error ~ (κ r)² r)
    cd, sd = np.cos(phi), np.sin(phi)
    b = x0 * cd + y0 * sd
    disc = b * b - (x0**2 + y0**2 - radius**2)
    t_lin = -b + np.sqrt(np.maximum(disc, 0.0))
    s_out[straight] = t_lin[straight]
    ok[straight] = (disc[straight] >= 0) & (t_lin[straight] > 0)
    c = ~straight
    if c.any():
        k, ph, x, y = kappa[c], phi[c], x0[c], y0[c]
        cx, cy = x - np.sin(ph) / k, y + np.cos(ph) / k  # centre of the circle
        rho = 1.0 / np.abs(k)
        d = np.maximum(np.hypot(cx, cy), 1e-12)
        a = (radius**2 - rho**2 + d**2) / (2 * d)
        h2 = radius**2 - a * a
        h = np.sqrt(np.maximum(h2, 0.0))
        ux, uy = cx / d, cy / d
        best = np.full(len(k), np.inf)
        for sgn in (-1.0, 1.0):
            qx, qy = a * ux - sgn * h * uy, a * uy + sgn * h * ux
            psi = np.arctan2(k * (qx - cx), -k * (qy - cy))  # direction at the crossing
            dpsi = np.where(k > 0, (psi - ph) % (2 * np.pi), -((ph - psi) % (2 * np.pi)))
            sc = dpsi / k
            best = np.where((sc > 1e-9) & (sc < best), sc, best)
        s_out[c] = np.where(np.isfinite(best), best, 0.0)
        ok[c] = (h2 >= 0) & np.isfinite(best)
    return s_out, ok


def _propagate(detector: PixelBarrel, vertex: np.ndarray, pt: np.ndarray, eta: np.ndarray,
               phi: np.ndarray, q: np.ndarray, ms_normals: np.ndarray, ms_on: bool
               ) -> dict[str, np.ndarray]:
    """Crossings of helices with the module planes, layer by layer (see module docstring)."""
    n = len(pt)
    pos = np.array(vertex, dtype=np.float64).reshape(-1, 3).copy()
    pos = np.broadcast_to(pos, (n, 3)).copy()
    phid, eta, pt = phi.astype(np.float64).copy(), eta.astype(np.float64).copy(), \
        pt.astype(np.float64).copy()
    p_mag = pt * np.cosh(eta)
    bz = detector.b_field_z
    out: dict[str, list[np.ndarray]] = {k: [] for k in (
        "particle", "layer", "module", "lx", "ly", "x", "y", "z", "eta", "phi", "pt", "s")}
    idx = np.arange(n)
    for li, la in enumerate(detector.layers):
        if n == 0:
            break
        kappa = -q * bz / pt
        # first guess: where the helix crosses the cylinder of the layer's radius
        x0, y0, z0 = pos[:, 0], pos[:, 1], pos[:, 2]
        s_g, reach = _cylinder_path(x0, y0, phid, kappa, la.radius)
        a = phid + 0.5 * kappa * s_g
        chord_g = s_g * np.sinc(0.5 * kappa * s_g / np.pi)
        phi_g = np.arctan2(y0 + chord_g * np.sin(a), x0 + chord_g * np.cos(a))
        step = 2 * np.pi / la.n_ladders
        k0 = np.floor((phi_g - la.phi_offset) / step + 0.5).astype(np.int64)
        ks = np.mod(k0[:, None] + np.arange(-1, 2)[None, :], la.n_ladders)  # (n, 3)
        phik = la.phi_offset + ks * step
        dk = la.radius + np.where(ks % 2 == 1, 0.5, -0.5) * la.stagger
        c, s = np.cos(phik), np.sin(phik)
        X0, Y0, PH, KA = x0[:, None], y0[:, None], phid[:, None], kappa[:, None]
        cos0 = np.cos(PH - phik)
        with np.errstate(divide="ignore", invalid="ignore"):
            # start Newton from the cylinder crossing (from the straight line if that fails)
            st = np.where(reach[:, None], s_g[:, None],
                          np.where(cos0 > 0.02, (dk - (X0 * c + Y0 * s)) / cos0, np.nan))
            for _ in range(6):  # Newton on (position(s) . n - d) = 0
                half = 0.5 * KA * st
                chord = st * np.sinc(half / np.pi)
                f = (X0 + chord * np.cos(PH + half)) * c + (Y0 + chord * np.sin(PH + half)) * s \
                    - dk
                fp = np.cos(PH + KA * st - phik)
                st = st - f / np.where(np.abs(fp) > 1e-3, fp, np.nan)
            fin = np.isfinite(st)  # no crossing: not reached, or Newton left the branch
            st = np.where(fin, st, 0.0)
            half = 0.5 * KA * st
            chord = st * np.sinc(half / np.pi)
            xx = X0 + chord * np.cos(PH + half)
            yy = Y0 + chord * np.sin(PH + half)
            f = xx * c + yy * s - dk
            fp = np.cos(PH + KA * st - phik)
        zz = z0[:, None] + st * np.sinh(eta)[:, None]
        lx = -s * xx + c * yy
        iz = np.floor(zz / la.module_pitch_z + 0.5 * la.n_modules_z).astype(np.int64)
        zc = (iz - 0.5 * (la.n_modules_z - 1)) * la.module_pitch_z
        ly = zz - zc
        ok = (np.abs(f) < 1e-6) & (st > 1e-9) & (fp > 0.02) & (np.abs(KA * st) < np.pi) \
            & (np.abs(lx) <= la.half_width) & (np.abs(ly) <= la.half_length) \
            & (iz >= 0) & (iz < la.n_modules_z)
        ok &= fin
        pi_, ci = np.nonzero(ok)
        if len(pi_):
            order = np.lexsort((st[pi_, ci], pi_))  # by particle, then along the path
            pi_, ci = pi_[order], ci[order]
            phi_out = PH[pi_, 0] + KA[pi_, 0] * st[pi_, ci]
            out["particle"].append(idx[pi_])
            out["layer"].append(np.full(len(pi_), li))
            out["module"].append(detector.first_module[li] + ks[pi_, ci] * la.n_modules_z
                                 + iz[pi_, ci])
            out["lx"].append(lx[pi_, ci])
            out["ly"].append(ly[pi_, ci])
            out["x"].append(xx[pi_, ci])
            out["y"].append(yy[pi_, ci])
            out["z"].append(zz[pi_, ci])
            out["eta"].append(eta[pi_])
            out["phi"].append(_wrap(phi_out))
            out["pt"].append(pt[pi_])
            out["s"].append(st[pi_, ci])
            # the state moves to each particle's last crossing in this layer
            last = np.r_[pi_[1:] != pi_[:-1], True]
            pl, cl = pi_[last], ci[last]
            pos[pl, 0], pos[pl, 1], pos[pl, 2] = xx[pl, cl], yy[pl, cl], zz[pl, cl]
            phid[pl] = phi_out[last]
            if ms_on and la.thickness_x0 > 0:
                # material crossed in this layer: x/X0 / cos(incidence), summed over overlaps
                sin_t = 1.0 / np.cosh(eta[pi_])
                cos_inc = np.maximum(np.abs(sin_t * np.cos(phi_out - phik[pi_, ci])), 0.05)
                xx0 = np.bincount(pi_, weights=la.thickness_x0 / cos_inc, minlength=n)[pl]
                p = p_mag[pl]
                beta = p / np.sqrt(p * p + _PION_MASS**2)
                theta0 = 0.0136 / (beta * p) * np.sqrt(xx0) * (
                    1.0 + 0.038 * np.log(xx0 / beta**2))
                th = 2.0 * np.arctan(np.exp(-eta[pl]))
                ux = np.sin(th) * np.cos(phid[pl])
                uy = np.sin(th) * np.sin(phid[pl])
                uz = np.cos(th)
                e1x, e1y = -np.sin(phid[pl]), np.cos(phid[pl])  # ⊥ u, in the x-y plane
                e2x, e2y, e2z = -uz * e1y, uz * e1x, ux * e1y - uy * e1x  # u x e1
                t1 = theta0 * ms_normals[pl, li, 0]
                t2 = theta0 * ms_normals[pl, li, 1]
                vx, vy, vz = ux + t1 * e1x + t2 * e2x, uy + t1 * e1y + t2 * e2y, uz + t2 * e2z
                vt = np.hypot(vx, vy)
                phid[pl] = np.arctan2(vy, vx)
                eta[pl] = np.arcsinh(vz / vt)
                pt[pl] = p_mag[pl] * vt / np.sqrt(vt * vt + vz * vz)
    keys = ("particle", "layer", "module", "lx", "ly", "x", "y", "z", "eta", "phi", "pt", "s")
    res = {k: (np.concatenate(out[k]) if out[k] else np.zeros(0)) for k in keys}
    for k in ("particle", "layer", "module"):
        res[k] = res[k].astype(np.int64)
    order = np.lexsort((res["layer"], res["particle"]))  # by particle, then inside-out
    return {k: v[order] for k, v in res.items()}


# --------------------------------------------------------------------------- sensor response
def _deposit(rng: np.random.Generator, detector: PixelBarrel, cfg: JetSimConfig,
             cr: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Charge of every crossing on the pixel grid: (module, row, col, particle, charge)
    per (segment, stencil cell), before aggregation."""
    n = len(cr["module"])
    if n == 0:
        e = np.zeros(0, np.int64)
        return e, e, e, e, np.zeros(0)
    layer = cr["layer"]
    t = detector.layer_table
    thick, prow, pcol = t("thickness")[layer], t("pitch_row")[layer], t("pitch_col")[layer]
    hw, hl = t("half_width")[layer], t("half_length")[layer]
    nrows, ncols = t("n_rows")[layer], t("n_cols")[layer]
    sin_t = 1.0 / np.cosh(cr["eta"])
    gx, gy, gz = sin_t * np.cos(cr["phi"]), sin_t * np.sin(cr["phi"]), np.tanh(cr["eta"])
    du, dv, dw = detector.local_direction(cr["module"], gx, gy, gz)
    dw = np.maximum(dw, 0.05)  # grazing crossings: cap the path length at 20 x thickness
    tx, ty = du / dw, dv / dw
    path = thick * np.sqrt(1.0 + tx * tx + ty * ty)
    moyal = np.minimum(-np.log(np.maximum(rng.standard_normal(n) ** 2, 1e-300)), 30.0)
    total = cfg.charge_per_um * (path / u.um) * np.maximum(1.0 + cfg.landau_width * moyal, 0.05)
    lt = cfg.lorentz_tan
    extent = np.maximum(np.abs(tx - lt) * thick / prow, np.abs(ty) * thick / pcol)
    nseg = np.clip(np.ceil(cfg.segments_per_pixel * extent), 8, 512).astype(np.int64)
    owner = np.repeat(np.arange(n), nseg)
    first = np.cumsum(nseg) - nseg
    j = np.arange(len(owner)) - first[owner]
    w = thick[owner] * ((j + 0.5) / nseg[owner] - 0.5)  # depth of each segment
    drift = 0.5 * thick[owner] - w
    g = rng.gamma(cfg.segment_shape, 1.0, len(owner))
    qseg = total[owner] * g / np.bincount(owner, weights=g, minlength=n)[owner]
    x = cr["lx"][owner] + tx[owner] * w + lt * drift
    y = cr["ly"][owner] + ty[owner] * w
    sig = cfg.diffusion_sigma * np.sqrt(np.maximum(drift, 0.0) / thick[owner])
    ue = (x + hw[owner]) / prow[owner]  # pixel-edge coordinates: pixel i is [i, i + 1)
    ve = (y + hl[owner]) / pcol[owner]
    i0, j0 = np.floor(ue), np.floor(ve)
    fu, fv = ue - i0, ve - j0
    su = np.maximum(sig / prow[owner], 1e-9)
    sv = np.maximum(sig / pcol[owner], 1e-9)
    lo_u, hi_u = _norm_cdf(-fu / su), _norm_cdf((1.0 - fu) / su)
    lo_v, hi_v = _norm_cdf(-fv / sv), _norm_cdf((1.0 - fv) / sv)
    wu = np.stack([lo_u, hi_u - lo_u, 1.0 - hi_u], axis=1)  # rows i0-1, i0, i0+1
    wv = np.stack([lo_v, hi_v - lo_v, 1.0 - hi_v], axis=1)
    wgt = (wu[:, :, None] * wv[:, None, :]).reshape(-1, 9)
    keep = wgt > 1e-4
    sg, cell = np.nonzero(keep)
    row = i0.astype(np.int64)[sg] + cell // 3 - 1
    col = j0.astype(np.int64)[sg] + cell % 3 - 1
    o = owner[sg]
    inside = (row >= 0) & (row < nrows[o]) & (col >= 0) & (col < ncols[o])
    sg, row, col, o = sg[inside], row[inside], col[inside], o[inside]
    charge = qseg[sg] * wgt[keep][inside]
    return cr["module"][o], row, col, cr["particle"][o], charge


def _readout(rng: np.random.Generator, detector: PixelBarrel, cfg: JetSimConfig,
             n_particles: int, module: np.ndarray, row: np.ndarray, col: np.ndarray,
             particle: np.ndarray, charge: np.ndarray, crossed: np.ndarray
             ) -> tuple[Table, Table]:
    """Noise pixels, aggregation per pixel, electronic noise, threshold, ADC."""
    t = detector.layer_table
    nr_max, nc_max = int(t("n_rows").max()), int(t("n_cols").max())
    # random noise pixels on the crossed modules
    mods = np.unique(crossed)
    if cfg.noise > 0 and len(mods):
        la = detector.module_layer(mods)
        npix = t("n_rows")[la] * t("n_cols")[la]
        k = rng.poisson(cfg.noise * npix)
        nm = np.repeat(mods, k)
        nla = np.repeat(la, k)
        nrow = np.floor(rng.random(len(nm)) * t("n_rows")[nla]).astype(np.int64)
        ncol = np.floor(rng.random(len(nm)) * t("n_cols")[nla]).astype(np.int64)
        nq = cfg.threshold + rng.exponential(max(cfg.noise_charge, 1e-9), len(nm))
        module = np.concatenate([module, nm])
        row, col = np.concatenate([row, nrow]), np.concatenate([col, ncol])
        particle = np.concatenate([particle, np.full(len(nm), -1)])
        charge = np.concatenate([charge, nq])
    slots = n_particles + 1  # slot 0: noise, slot p + 1: particle index p (= particle_id)
    pkey = (module * nr_max + row) * nc_max + col
    ckey = pkey * slots + (particle + 1)
    uniq, inv = np.unique(ckey, return_inverse=True)
    cq = np.bincount(inv.reshape(-1), weights=charge, minlength=len(uniq))
    cpk, cpid = uniq // slots, uniq % slots
    brk = np.r_[True, cpk[1:] != cpk[:-1]] if len(cpk) else np.zeros(0, bool)
    starts = np.flatnonzero(brk)
    pix_of = np.cumsum(brk) - 1  # pixel row of each contribution
    qpix = np.add.reduceat(cq, starts) if len(starts) else np.zeros(0)
    order = np.lexsort((-cq, cpk))
    dominant = cpid[order[starts]]
    qpix = qpix + rng.normal(0.0, 1.0, len(qpix)) * cfg.noise_electrons
    fired = qpix >= cfg.threshold
    pk = cpk[starts][fired]
    adc = np.minimum(np.floor(qpix[fired] / cfg.adc_gain), cfg.adc_saturation)
    mod = pk // (nr_max * nc_max)
    rc = pk % (nr_max * nc_max)
    pixels = Table({
        "module": mod.astype(np.int64),
        "row": (rc // nc_max).astype(np.int32),
        "col": (rc % nc_max).astype(np.int32),
        "adc": adc.astype(np.uint8),
        "charge": qpix[fired].astype(np.float32),
        "particle_id": dominant[fired].astype(np.int64),
    }, name="pixels")
    new_row = np.cumsum(fired) - 1
    keep = fired[pix_of] & (cpid > 0) & (cq >= _MIN_DEPOSIT)
    deposits = Table({
        "pixel": new_row[pix_of[keep]].astype(np.int64),
        "particle_id": cpid[keep].astype(np.int64),
        "charge": cq[keep].astype(np.float32),
    }, name="deposits")
    return pixels, deposits


# --------------------------------------------------------------------------- assembly
def _event(rng: np.random.Generator, detector: PixelBarrel, cfg: JetSimConfig, event_id: int,
           jet: tuple[float, float, float], vertex: np.ndarray, pt: np.ndarray,
           eta: np.ndarray, phi: np.ndarray, q: np.ndarray, vtx: np.ndarray,
           from_jet: np.ndarray) -> JetEvent:
    n = len(pt)
    ms_normals = rng.standard_normal((n, len(detector.layers), 2))
    cr = _propagate(detector, vtx, pt, eta, phi, q.astype(np.float64), ms_normals,
                    cfg.multiple_scattering)
    module, row, col, particle, charge = _deposit(rng, detector, cfg, cr)
    pixels, deposits = _readout(rng, detector, cfg, n, module, row, col, particle, charge,
                                cr["module"])
    rowf, colf = (detector.to_pixel(cr["module"], cr["lx"], cr["ly"]) if len(cr["module"])
                  else (np.zeros(0), np.zeros(0)))
    crossings = Table({
        "particle_id": cr["particle"] + 1, "layer": cr["layer"].astype(np.int8),
        "module": cr["module"], "lx": cr["lx"], "ly": cr["ly"], "row": rowf, "col": colf,
        "x": cr["x"], "y": cr["y"], "z": cr["z"], "eta": cr["eta"], "phi": cr["phi"],
        "pt": cr["pt"],
    }, name="crossings")
    particles = Table({
        "particle_id": np.arange(1, n + 1, dtype=np.int64), "pt": pt.astype(np.float64),
        "eta": eta.astype(np.float64), "phi": _wrap(phi).astype(np.float64),
        "q": q.astype(np.int8), "vx": vtx[:, 0], "vy": vtx[:, 1], "vz": vtx[:, 2],
        "from_jet": from_jet.astype(bool),
    }, name="particles")
    return JetEvent(detector=detector, config=cfg, event_id=int(event_id),
                    jet_pt=float(jet[0]), jet_eta=float(jet[1]), jet_phi=float(_wrap(jet[2])),
                    vertex=np.asarray(vertex, np.float64).reshape(3), particles=particles,
                    pixels=pixels, deposits=deposits, crossings=crossings)


def _jet_particles(rng: np.random.Generator, detector: PixelBarrel, cfg: JetSimConfig
                   ) -> tuple[tuple[float, float, float], np.ndarray, tuple[np.ndarray, ...]]:
    lo, hi = cfg.jet_pt
    jet_pt = float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) if hi > lo else float(lo)
    jet_eta = float(rng.uniform(-cfg.jet_eta_max, cfg.jet_eta_max))
    jet_phi = float(rng.uniform(-np.pi, np.pi))
    pv = np.array([rng.normal(0.0, cfg.beam_sigma_xy), rng.normal(0.0, cfg.beam_sigma_xy),
                   rng.normal(0.0, cfg.beam_sigma_z)])
    mean_n = cfg.n_charged * (jet_pt / u.TeV) ** cfg.n_charged_slope
    n_jet = max(1, int(rng.poisson(mean_n)))
    fpt = _fragment_pt(rng, jet_pt, n_jet, cfg)
    jt = rng.rayleigh(cfg.jt_scale, n_jet)
    dr = cfg.jet_radius * np.tanh(jt / (fpt * cfg.jet_radius))
    alpha = rng.uniform(-np.pi, np.pi, n_jet)
    feta = jet_eta + dr * np.cos(alpha)
    fphi = jet_phi + dr * np.sin(alpha)
    fq = rng.choice(np.array([-1.0, 1.0]), n_jet)
    # pile-up in a box around the axis, widened in φ by the largest bending
    h = cfg.pileup_region
    hphi = h + _max_bend(detector, cfg.pileup_pt_min)
    n_pu = int(rng.poisson(cfg.pileup_tracks * hphi / h)) if cfg.pileup_tracks > 0 else 0
    ppt = _tsallis_pt(rng, n_pu, cfg.pileup_pt_min, cfg.pileup_pt_max)
    peta = rng.uniform(jet_eta - h, jet_eta + h, n_pu)
    pphi = rng.uniform(jet_phi - hphi, jet_phi + hphi, n_pu)
    pq = rng.choice(np.array([-1.0, 1.0]), n_pu)
    pvtx = np.stack([rng.normal(0.0, cfg.beam_sigma_xy, n_pu),
                     rng.normal(0.0, cfg.beam_sigma_xy, n_pu),
                     rng.normal(0.0, cfg.beam_sigma_z, n_pu)], axis=1)
    vtx = np.concatenate([np.broadcast_to(pv, (n_jet, 3)), pvtx])
    cols = (np.concatenate([fpt, ppt]), np.concatenate([feta, peta]),
            np.concatenate([fphi, pphi]), np.concatenate([fq, pq]), vtx,
            np.r_[np.ones(n_jet, bool), np.zeros(n_pu, bool)])
    return (jet_pt, jet_eta, jet_phi), pv, cols


def _detector(detector: PixelBarrel | None) -> PixelBarrel:
    det = detector if detector is not None else PixelBarrel()
    if not isinstance(det, PixelBarrel):
        msg = f"detector must be a helixkit.deepcore.PixelBarrel, got {type(det).__name__}"
        raise ValueError(msg)
    return det


def simulate_jet(seed: int | np.random.SeedSequence = 0, *, detector: PixelBarrel | None = None,
                 config: JetSimConfig | None = None, event_id: int = 0,
                 **overrides: object) -> JetEvent:
    """One jet region (:func:`simulate_jets` with one jet; ``seed`` as given)."""
    cfg = make_jet_config(config, **overrides)
    det = _detector(detector)
    rng = np.random.default_rng(seed)
    jet, pv, (pt, eta, phi, q, vtx, from_jet) = _jet_particles(rng, det, cfg)
    return _event(rng, det, cfg, event_id, jet, pv, pt, eta, phi, q, vtx, from_jet)


def simulate_jets(
    n_jets: int,
    *,
    jet_pt: tuple[float, float] | float | None = None,
    seed: int = 0,
    pileup_tracks: float | None = None,
    noise: float | None = None,
    detector: PixelBarrel | None = None,
    config: JetSimConfig | None = None,
    first_jet: int = 0,
    **overrides: object,
) -> list[JetEvent]:
    """Simulate ``n_jets`` high-pT jet regions in a barrel pixel detector.

    Parameters
    ----------
    n_jets : int
    jet_pt : (float, float) or float, optional
        Jet pT range [GeV] (log-uniform; a single value fixes it); default (500, 3000) GeV.
    seed : int
        Jet *k* uses the *k*-th child of ``SeedSequence(seed)``: the same jets whatever
        ``n_jets`` is.
    pileup_tracks : float, optional
        Mean number of pile-up tracks per (1 x 1) in η x φ around the jet (default 40,
        ≈ <μ> 60 with pT > 0.3 GeV); 0 for none.
    noise : float, optional
        Noise-pixel occupancy (default 1e-5).
    detector : PixelBarrel, optional
        Default: CMS-Phase-1-like BPIX1-4 in 3.8 T.
    config : JetSimConfig, optional
    first_jet : int
        Index of the first jet: ``simulate_jets(10, first_jet=10)`` continues
        ``simulate_jets(10)``; event ids are ``first_jet + k``.
    **overrides
        Any :class:`JetSimConfig` field (``threshold=1600``, ``multiple_scattering=False``).

    Returns
    -------
    list of JetEvent
    """
    if int(n_jets) != n_jets or n_jets < 0:
        msg = f"n_jets (={n_jets!r}) must be an integer >= 0"
        raise ValueError(msg)
    if int(first_jet) != first_jet or first_jet < 0:
        msg = f"first_jet (={first_jet!r}) must be an integer >= 0"
        raise ValueError(msg)
    for name, value in (("jet_pt", jet_pt), ("pileup_tracks", pileup_tracks), ("noise", noise)):
        if value is not None:
            overrides[name] = value
    cfg = make_jet_config(config, **overrides)
    det = _detector(detector)
    children = np.random.SeedSequence(seed).spawn(int(first_jet) + int(n_jets))[int(first_jet):]
    return [simulate_jet(children[k], detector=det, config=cfg, event_id=int(first_jet) + k)
            for k in range(int(n_jets))]


def simulate_particles(
    pt: np.ndarray | list[float],
    eta: np.ndarray | list[float],
    phi: np.ndarray | list[float],
    charge: np.ndarray | list[float],
    *,
    vertex: tuple[float, float, float] | np.ndarray = (0.0, 0.0, 0.0),
    jet: tuple[float, float, float] | None = None,
    seed: int | np.random.SeedSequence = 0,
    detector: PixelBarrel | None = None,
    config: JetSimConfig | None = None,
    event_id: int = 0,
    **overrides: object,
) -> JetEvent:
    """A :class:`JetEvent` of given particles only (no jet fragments, no pile-up), all from
    ``vertex`` [mm], through the same propagation and sensor response (noise pixels as
    ``config.noise``; pass ``noise=0`` for none). ``jet`` (pT, η, φ) is the axis recorded in
    the event, by default the pT-weighted mean direction of the particles."""
    cfg = make_jet_config(config, **overrides)
    det = _detector(detector)
    arrs = [np.atleast_1d(np.asarray(a, np.float64)) for a in (pt, eta, phi, charge)]
    if len({a.shape for a in arrs}) != 1 or arrs[0].ndim != 1:
        msg = f"pt, eta, phi, charge must be 1-D of one length, got {[a.shape for a in arrs]}"
        raise ValueError(msg)
    p_t, e_t, f_t, q_t = arrs
    for name, a in zip(("pt", "eta", "phi", "charge"), arrs):
        if not np.isfinite(a).all():
            msg = f"{name} must be finite"
            raise ValueError(msg)
    if (p_t <= 0).any():
        msg = f"pt must be > 0 GeV, got {p_t[p_t <= 0][0]}"
        raise ValueError(msg)
    if not np.isin(q_t, (-1.0, 1.0)).all():
        msg = "charge must be -1 or +1"
        raise ValueError(msg)
    v = np.asarray(vertex, np.float64).reshape(-1)
    if v.shape != (3,) or not np.isfinite(v).all():
        msg = f"vertex must be 3 finite numbers (x, y, z) in mm, got {vertex!r}"
        raise ValueError(msg)
    if jet is None:
        px, py = (p_t * np.cos(f_t)).sum(), (p_t * np.sin(f_t)).sum()
        jet = (float(p_t.sum()), float((p_t * e_t).sum() / p_t.sum()), math.atan2(py, px))
    rng = np.random.default_rng(seed)
    n = len(p_t)
    return _event(rng, det, cfg, event_id, tuple(float(x) for x in jet), v, p_t, e_t, f_t,
                  q_t, np.broadcast_to(v, (n, 3)).copy(), np.ones(n, bool))
