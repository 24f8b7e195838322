"""Truth tracking on events with a known geometry, performance and plots."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import _hep
from .._validation import check_int, check_n_threads, require_instance
from ..data import Event, Geometry
from ..plots import plain_log_ticks, pyplot, save_figure
from .kalman import (
    PARAM_NAMES,
    PION_MASS,
    PROPAGATION_FAILED,
    TrackFitResult,
    estimate_track_params,
    fit_tracks,
    perigee_from_momenta,
)
from .surfaces import Surfaces, geometry_measurements

#: |PDG id| -> mass [GeV] for the truth mass hypothesis (others: pion).
PDG_MASS = {11: 0.000511, 13: 0.10566, 211: 0.13957, 321: 0.49368, 2212: 0.93827}

_SURFACE_CACHE: dict[int, tuple[Any, Surfaces]] = {}


def _surfaces_for(geometry: Any) -> Surfaces:
    key = id(geometry)
    hit = _SURFACE_CACHE.get(key)
    if hit is not None and hit[0] is geometry:
        return hit[1]
    s = Surfaces.from_geometry(geometry)
    _SURFACE_CACHE.clear()
    _SURFACE_CACHE[key] = (geometry, s)
    return s


def _particle_rows(event: Event, pids: np.ndarray) -> np.ndarray:
    ppid = np.asarray(event.particles["particle_id"], dtype=np.int64)
    order = np.argsort(ppid, kind="stable")
    pos = np.clip(np.searchsorted(ppid[order], pids), 0, max(len(ppid) - 1, 0))
    if len(ppid) == 0 or not np.array_equal(ppid[order][pos], pids):
        msg = "event.particles must contain every particle_id that has hits"
        raise ValueError(msg)
    return order[pos]


def fit_truth_tracks(
    event: Event,
    *,
    min_hits: int = 5,
    n_threads: int = 0,
    geometry: Any = None,
    mass: str | float = "truth",
    **fit_options: Any,
) -> TrackFitResult:
    """Fit every particle's own hits (truth tracking) on an event with a known geometry.

    Hits are ordered by distance from the particle's production vertex, the
    initial parameters come from the helix through the first, middle and
    last hit (:func:`estimate_track_params`), and the tracks are fitted with
    :func:`fit_tracks` (Highland scattering from the layers' ``thickness_x0``).

    Parameters
    ----------
    event : helixkit.data.Event
        With truth and particles; ``event.geometry`` (or ``geometry``) is a
        :class:`helixkit.data.Geometry` of barrel cylinders and endcap disks.
    min_hits : int
        Particles with fewer hits on known layers are not fitted.
    n_threads : int
        0 = all cores; results do not depend on it.
    mass : "truth" or float
        Mass hypothesis: the particle's own (from ``particle_type``) or a fixed value [GeV].
    **fit_options
        Passed to :func:`fit_tracks` (``outlier_chi2_cut``, ``smoother``, ``store_states``...).

    Returns
    -------
    TrackFitResult
        With ``particle_id`` set and ``extra["hit_rows"]`` / ``extra["offsets"]``:
        the event hit rows of each track's measurements, in fit order.
    """
    require_instance(event, Event, "event", "helixkit.data.Event")
    geo = geometry if geometry is not None else getattr(event, "geometry", None)
    if geo is None:
        msg = "fit_truth_tracks needs a geometry: event.geometry is None and geometry= not given"
        raise ValueError(msg)
    min_hits = check_int(min_hits, "min_hits")
    if min_hits < 3:
        msg = f"min_hits must be >= 3, got {min_hits}"
        raise ValueError(msg)
    if not event.has_truth:
        msg = "fit_truth_tracks needs an event with truth (particle_id per hit)"
        raise ValueError(msg)
    n_threads = check_n_threads(n_threads)
    hits = event.hits
    layer = geo.layer_indices(hits["volume_id"], hits["layer_id"])
    pid = event.hit_particle_id
    rows = np.flatnonzero((pid != 0) & (layer >= 0))
    upid, inv, counts = np.unique(pid[rows], return_inverse=True, return_counts=True)
    keep_p = counts >= int(min_hits)
    rows = rows[keep_p[inv]]
    upid = upid[keep_p]
    prow = _particle_rows(event, upid)
    pidx = np.searchsorted(upid, pid[rows])
    parts = event.particles
    x = np.asarray(hits["x"], dtype=np.float64)[rows]
    y = np.asarray(hits["y"], dtype=np.float64)[rows]
    z = np.asarray(hits["z"], dtype=np.float64)[rows]
    vx = np.asarray(parts["vx"], dtype=np.float64)[prow]
    vy = np.asarray(parts["vy"], dtype=np.float64)[prow]
    vz = np.asarray(parts["vz"], dtype=np.float64)[prow]
    dist2 = (x - vx[pidx]) ** 2 + (y - vy[pidx]) ** 2 + (z - vz[pidx]) ** 2
    order = np.lexsort((dist2, pidx))
    rows, pidx, x, y, z = rows[order], pidx[order], x[order], y[order], z[order]
    n = len(upid)
    offsets = np.zeros(n + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(np.bincount(pidx, minlength=n))
    surfaces = _surfaces_for(geo)
    loc, cov = geometry_measurements(geo, layer[rows], x, y, z)
    xyz = np.stack([x, y, z], axis=1)
    cnt = np.diff(offsets)
    first, mid, last = offsets[:-1], offsets[:-1] + cnt // 2, offsets[1:] - 1
    init, st = estimate_track_params(xyz[first], xyz[mid], xyz[last], b_field_z=geo.b_field_z,
                                     n_threads=n_threads)
    bad = st != 0
    if bad.any():  # fall back to the first three hits
        alt, st2 = estimate_track_params(xyz[first[bad]], xyz[first[bad] + 1],
                                         xyz[first[bad] + 2], b_field_z=geo.b_field_z)
        init[bad] = alt
        bad[np.flatnonzero(bad)[st2 == 0]] = False
    if isinstance(mass, str):
        if mass != "truth":
            msg = f"mass must be 'truth' or a number, got {mass!r}"
            raise ValueError(msg)
        if "particle_type" in parts:
            pdg = np.abs(np.asarray(parts["particle_type"], dtype=np.int64)[prow])
            masses = np.array([PDG_MASS.get(int(p), PION_MASS) for p in pdg])
        else:
            masses = np.full(n, PION_MASS)
    else:
        masses = np.full(n, float(mass))
    good = ~bad
    sel_off = np.concatenate([[0], np.cumsum(cnt[good])]).astype(np.int64)
    meas_sel = np.repeat(good, cnt)
    res = fit_tracks(surfaces, sel_off, layer[rows][meas_sel], loc[meas_sel], cov[meas_sel],
                     init[good], b_field_z=geo.b_field_z, mass=masses[good], n_threads=n_threads,
                     **fit_options)
    if bad.any():
        res = _expand(res, good, meas_sel)
    res.particle_id = upid
    res.extra["hit_rows"] = rows
    res.extra["offsets"] = offsets
    return res


def _expand(res: TrackFitResult, good: np.ndarray, meas_sel: np.ndarray) -> TrackFitResult:
    """Re-insert tracks that could not be seeded, with status PROPAGATION_FAILED."""
    n, m = len(good), len(meas_sel)

    def grow(a: np.ndarray | None, size: int, sel: np.ndarray, fill: Any) -> np.ndarray | None:
        if a is None:
            return None
        out = np.full((size, *a.shape[1:]), fill, dtype=a.dtype)
        out[sel] = a
        return out

    return TrackFitResult(
        params=grow(res.params, n, good, np.nan), cov=grow(res.cov, n, good, np.nan),
        chi2=grow(res.chi2, n, good, np.nan), ndf=grow(res.ndf, n, good, 0),
        status=grow(res.status, n, good, PROPAGATION_FAILED),
        n_measurements=grow(res.n_measurements, n, good, 0),
        n_outliers=grow(res.n_outliers, n, good, 0), n_holes=grow(res.n_holes, n, good, 0),
        measurement_chi2=grow(res.measurement_chi2, m, meas_sel, np.nan),
        outlier=grow(res.outlier, m, meas_sel, False),
        smoothed=grow(res.smoothed, m, meas_sel, np.nan),
        smoothed_cov=grow(res.smoothed_cov, m, meas_sel, np.nan),
    )


@dataclass
class FitPerformance:
    """Residuals and pulls of fitted perigee parameters against truth.

    ``residual`` and ``pull`` are (N, 5) over successful fits only (φ residual
    wrapped); ``truth`` the true perigee parameters, ``pt`` and ``eta`` true.
    """

    particle_id: np.ndarray
    truth: np.ndarray
    fitted: np.ndarray
    residual: np.ndarray
    pull: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    chi2_ndf: np.ndarray

    def summary(self) -> dict[str, float]:
        """σ(d0) [mm], σ(z0) [mm], σ(pT)/pT, pull means and widths, mean χ²/ndf."""
        out: dict[str, float] = {"tracks": float(len(self.pt))}
        if len(self.pt) == 0:
            return out
        pt_fit = np.abs(np.sin(self.fitted[:, 3]) / self.fitted[:, 4])
        out["sigma_d0"] = float(np.std(self.residual[:, 0]))
        out["sigma_z0"] = float(np.std(self.residual[:, 1]))
        out["sigma_pt_rel"] = float(np.std((pt_fit - self.pt) / self.pt))
        for i, name in enumerate(PARAM_NAMES):
            out[f"pull_mean_{name}"] = float(np.mean(self.pull[:, i]))
            out[f"pull_width_{name}"] = float(np.std(self.pull[:, i]))
        out["chi2_ndf"] = float(np.mean(self.chi2_ndf))
        return out

    def binned(self, edges: Any = (0.5, 1, 2, 5, 10, 100)) -> dict[str, np.ndarray]:
        """Resolutions of d0, z0, q/pT and pT/pT in bins of true pT."""
        e = np.asarray(edges, dtype=np.float64)
        b = np.digitize(self.pt, e) - 1
        qopt = self.fitted[:, 4] / np.sin(self.fitted[:, 3])
        qopt_t = self.truth[:, 4] / np.sin(self.truth[:, 3])
        res = {"edges": e, "count": np.zeros(len(e) - 1, dtype=np.int64)}
        for key in ("d0", "z0", "qopt", "pt_rel"):
            res[key] = np.full(len(e) - 1, np.nan)
        for k in range(len(e) - 1):
            s = b == k
            res["count"][k] = int(s.sum())
            if s.sum() < 3:
                continue
            res["d0"][k] = np.std(self.residual[s, 0])
            res["z0"][k] = np.std(self.residual[s, 1])
            res["qopt"][k] = np.std(qopt[s] - qopt_t[s])
            res["pt_rel"][k] = np.std(qopt_t[s] / qopt[s] - 1.0)
        return res


def fit_performance(result: TrackFitResult, event: Event, *,
                    geometry: Geometry | None = None) -> FitPerformance:
    """Compare a :func:`fit_truth_tracks` result with the particles' true perigee parameters."""
    if result.particle_id is None:
        msg = "result has no particle_id; use fit_truth_tracks"
        raise ValueError(msg)
    geo = geometry if geometry is not None else event.geometry
    ok = result.ok
    pids = result.particle_id[ok]
    prow = _particle_rows(event, pids)
    p = event.particles
    pos = np.stack([np.asarray(p[c], dtype=np.float64)[prow] for c in ("vx", "vy", "vz")], axis=1)
    mom = np.stack([np.asarray(p[c], dtype=np.float64)[prow] for c in ("px", "py", "pz")], axis=1)
    q = np.asarray(p["q"], dtype=np.float64)[prow]
    truth, _ = perigee_from_momenta(pos, mom, q, b_field_z=geo.b_field_z)
    fitted = result.params[ok]
    resid = fitted - truth
    resid[:, 2] = np.angle(np.exp(1j * resid[:, 2]))
    sig = np.sqrt(np.diagonal(result.cov[ok], axis1=1, axis2=2))
    pt = np.hypot(mom[:, 0], mom[:, 1])
    eta = np.arcsinh(mom[:, 2] / pt)
    ndf = np.maximum(result.ndf[ok], 1)
    return FitPerformance(pids, truth, fitted, resid, resid / sig, pt, eta, result.chi2[ok] / ndf)


def plot_fit_performance(perf: FitPerformance, out_dir: str | os.PathLike[str], *,
                         caption: str | None = None) -> list[Path]:
    """Write ``fit_pulls.png`` and ``fit_resolution.png`` into ``out_dir``; ``caption``
    (sample, <mu>, selection, number of events) is printed under each title."""
    plt = pyplot()
    out = Path(out_dir)
    paths = []
    with _hep.style():
        fig, axes = plt.subplots(1, 6, figsize=(22, 3.8))
        xs = np.linspace(-5, 5, 201)
        pull_edges = np.linspace(-5, 5, 61)
        for i, name in enumerate(PARAM_NAMES):
            ax = axes[i]
            v = perf.pull[:, i]
            # the pulls' histogram (boost-histogram when installed), as a density in [-5, 5]
            counts = _hep.bin_counts(v, pull_edges, last_closed=True)
            _hep.draw_steps(ax, pull_edges, _hep.density(counts, pull_edges), color="C0",
                            label="fitted tracks")
            ax.plot(xs, np.exp(-0.5 * xs**2) / np.sqrt(2 * np.pi), "k--", lw=0.8,
                    label="N(0, 1)")
            ax.set_xlim(-5, 5)
            ax.set_xlabel(f"pull {name}")
            if len(v):
                ax.set_title(f"pull {name}: μ={np.mean(v):.3f} σ={np.std(v):.3f}", fontsize=9)
        axes[0].set_ylabel("density")
        axes[0].legend(loc="upper left", fontsize=7)
        c = perf.chi2_ndf
        chi2_edges = np.linspace(0, 4, 61)
        _hep.draw_steps(axes[5], chi2_edges, _hep.bin_counts(c, chi2_edges, last_closed=True),
                        color="C1")
        axes[5].set_xlim(0, 4)
        axes[5].set_xlabel("χ²/ndf")
        axes[5].set_ylabel("tracks")
        axes[5].set_title(f"χ²/ndf (mean {np.mean(c) if len(c) else float('nan'):.3f})",
                          fontsize=9)
        _hep.experiment_label(fig)
        fig.suptitle(f"Kalman fit pulls, {len(c)} tracks" + (f"\n{caption}" if caption else ""),
                     fontsize=10)
        fig.tight_layout()
        paths.append(save_figure(fig, out / "fit_pulls.png"))

        b = perf.binned()
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
        for ax, key, lab, scale in ((axes[0], "d0", "σ(d0) [µm]", 1e3),
                                    (axes[1], "z0", "σ(z0) [µm]", 1e3),
                                    (axes[2], "pt_rel", "σ(pT)/pT [%]", 100.0)):
            drawn = _hep.draw_points(ax, b["edges"], [b[key] * scale], marker="o")
            ax.set_xscale("log")
            ax.set_xlim(b["edges"][0], b["edges"][-1])
            plain_log_ticks(ax, b["edges"][0], b["edges"][-1])
            ax.set_xlabel("true pT [GeV]")
            ax.set_ylabel(lab)
            ax.grid(alpha=0.3)
            if not drawn:
                ax.text(0.5, 0.5, "no bin with >= 3 tracks", ha="center", va="center",
                        transform=ax.transAxes, color="0.4")
        _hep.experiment_label(fig)
        fig.suptitle(f"Kalman fit resolutions (standard deviation per bin of true pT; bins "
                     f"with >= 3 tracks), {len(c)} tracks" + (f"\n{caption}" if caption else ""),
                     fontsize=10)
        fig.tight_layout()
        paths.append(save_figure(fig, out / "fit_resolution.png"))
    return paths
