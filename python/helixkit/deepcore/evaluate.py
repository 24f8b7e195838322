"""Seeding in jet cores: DeepCore vs the standard path and the JetCore-like splitting.

The particles scored are those a jet-core seeding must find: from the jet, pT above a cut
(1 GeV), direction within ``delta_r`` (0.1) of the jet axis, crossing BPIX2. Per method:

- **standard**: clusters → space points → triplet seeding (:mod:`.baseline`); a seed finds
  the particle that is the main particle of all three of its clusters; a seed whose three
  main particles differ (or are noise) is fake.
- **jetcore**: the same with JetCore-like cluster splitting near the jet.
- **deepcore**: the network's track crossing points on BPIX2 (one window per BPIX2 cluster
  near the jet; crossings of overlapping windows within ``merge`` pixels on one module are
  one crossing, the most probable kept). A crossing finds a particle whose true BPIX2
  crossing lies within ``tolerance`` pixels in both row (r·φ) and column (z), one-to-one,
  nearest first; an unmatched crossing next to an already found particle is a duplicate,
  one next to the crossing of any other particle (below the pT cut, outside the core,
  pile-up) is neither found nor fake — as a baseline seed of one such particle is not
  fake — and any other unmatched crossing is fake.

Efficiency = found / scored particles; fake rate = fake seeds / seeds in the jet core
(seeds whose BPIX2-side point lies within ``delta_r`` of the jet axis); duplicates per
found particle (baseline: further good seeds of a particle already seeded). Also by
particle pT, by distance to the jet axis, by jet pT and for particles whose BPIX2
cluster is *merged* (shared with another particle) or isolated.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._hep import pass_total
from ..data.event import Table
from ..fitting import perigee_from_momenta
from .baseline import SpacePoints, jetcore_split, space_points, triplet_seeds
from .simulation import JetEvent
from .windows import Windows, jet_windows

#: Particle pT bins [GeV], ΔR bins and jet pT bins [GeV] of the efficiency curves.
PT_BINS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 2000.0)
DR_BINS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1)
JET_PT_BINS = (500.0, 1000.0, 1500.0, 2000.0, 2500.0, 3000.0)


@dataclass
class MethodResult:
    """Per scored particle (arrays (P,)): ``found``, ``pt``, ``delta_r``, ``jet_pt`` and
    ``merged`` (its BPIX2 cluster is shared with another particle); ``n_seeds`` /
    ``n_fake`` / ``n_duplicate`` in the jet core; ``seconds`` (the method's own time:
    space points + seeding, or windows + network + crossings). DeepCore also gives
    ``residuals`` (:func:`crossing_residuals`) and ``seeds`` (:func:`crossing_seeds`)."""

    found: np.ndarray
    pt: np.ndarray
    delta_r: np.ndarray
    jet_pt: np.ndarray
    n_seeds: int
    n_fake: int
    n_duplicate: int
    seconds: float
    merged: np.ndarray | None = None
    residuals: Table | None = None
    seeds: Table | None = None

    def summary(self, min_pt: float = 0.0, *, merged: bool | None = None
                ) -> dict[str, float]:
        """Efficiency of the particles with pT >= ``min_pt`` (only those in merged
        clusters, or only isolated ones, with ``merged`` True / False), seeds, fake rate,
        duplicates per found particle and time of the whole sample."""
        s = self.pt >= min_pt
        if merged is not None and self.merged is not None:
            s &= self.merged == bool(merged)
        n = int(s.sum())
        return {"particles": n, "efficiency": float(self.found[s].mean()) if n else float("nan"),
                "seeds": self.n_seeds,
                "fake_rate": self.n_fake / self.n_seeds if self.n_seeds else float("nan"),
                "duplicates_per_found": self.n_duplicate / max(int(self.found.sum()), 1),
                "seconds": self.seconds}


def _wrap(phi: np.ndarray) -> np.ndarray:
    return np.angle(np.exp(1j * np.asarray(phi, np.float64)))


def scored_particles(ev: JetEvent, *, min_pt: float = 1.0, delta_r: float = 0.1
                     ) -> dict[str, np.ndarray]:
    """The particles of ``ev`` a jet-core seeding must find (module docstring): ids, pT,
    ΔR to the jet axis, their true BPIX2 crossings (``module``, ``row``, ``col``), the
    direction there (``eta``, ``phi``), the charge ``q`` and ``merged``: the BPIX2 cluster holding the
    particle's largest deposit gets >= 2 ke from another particle too
    (:meth:`JetEvent.cluster_particles`)."""
    p = ev.particles
    pid = np.asarray(p["particle_id"], np.int64)
    dr = np.hypot(np.asarray(p["eta"]) - ev.jet_eta, _wrap(np.asarray(p["phi"]) - ev.jet_phi))
    cr = ev.crossings
    on2 = np.asarray(cr["layer"]) == 1
    c_pid = np.asarray(cr["particle_id"], np.int64)[on2]
    # the first BPIX2 crossing of each particle (a second one in a φ overlap is ignored)
    c_pid, first = np.unique(c_pid, return_index=True)
    sel = (np.asarray(p["pt"]) >= min_pt) & (dr <= delta_r) & np.asarray(p["from_jet"], bool) \
        & np.isin(pid, c_pid)
    at = np.searchsorted(c_pid, pid[sel])
    idx = np.flatnonzero(on2)[first[at]]
    out = {"particle_id": pid[sel], "pt": np.asarray(p["pt"], np.float64)[sel],
           "delta_r": dr[sel], "module": np.asarray(cr["module"], np.int64)[idx],
           "row": np.asarray(cr["row"], np.float64)[idx],
           "col": np.asarray(cr["col"], np.float64)[idx],
           "eta": np.asarray(cr["eta"], np.float64)[idx],
           "phi": np.asarray(cr["phi"], np.float64)[idx],
           "q": np.asarray(p["q"], np.float64)[sel]}
    out["merged"] = _merged(ev, out["particle_id"], out["module"])
    return out


def _merged(ev: JetEvent, pid: np.ndarray, module: np.ndarray) -> np.ndarray:
    """Per particle: is its largest deposit on ``module`` in a cluster shared with another
    particle (False when it left no deposit there)."""
    out = np.zeros(len(pid), dtype=bool)
    d = ev.deposits
    if len(pid) == 0 or d.n_rows == 0:
        return out
    cl = ev.clusters()
    shared = ev.cluster_particles(cl) >= 2
    pix = np.asarray(d["pixel"], np.int64)
    order = np.argsort(pid, kind="stable")
    k = np.clip(np.searchsorted(pid[order], d["particle_id"]), 0, len(pid) - 1)
    who = order[k]
    mine = (pid[who] == d["particle_id"]) & (ev.pixels["module"][pix] == module[who])
    who, pix, q = who[mine], pix[mine], np.asarray(d["charge"], np.float64)[mine]
    # the largest deposit of each particle: sort by (particle, -charge), first per particle
    o = np.lexsort((-q, who))
    first = o[np.r_[True, who[o][1:] != who[o][:-1]]] if len(o) else o
    out[who[first]] = shared[cl.labels[pix[first]]]
    return out


def _in_core(ev: JetEvent, x: np.ndarray, y: np.ndarray, z: np.ndarray, delta_r: float
             ) -> np.ndarray:
    v = np.asarray(ev.vertex, np.float64)
    eta = np.arcsinh((z - v[2]) / np.maximum(np.hypot(x - v[0], y - v[1]), 1e-9))
    return np.hypot(eta - ev.jet_eta, _wrap(np.arctan2(y - v[1], x - v[0]) - ev.jet_phi)) \
        <= delta_r


def seed_baseline(events: Sequence[JetEvent], *, split: bool = False, min_pt: float = 1.0,
                  delta_r: float = 0.1) -> MethodResult:
    """The standard path (``split=False``) or the JetCore-like one on ``events``."""
    make: Callable[[JetEvent], SpacePoints] = jetcore_split if split else space_points
    found, pts, drs, jets, merged = [], [], [], [], []
    n_seeds = n_fake = n_dup = 0
    secs = 0.0
    for ev in events:
        t0 = time.perf_counter()
        sp = make(ev)
        seeds = triplet_seeds(sp, n_threads=1)
        secs += time.perf_counter() - t0
        sc = scored_particles(ev, min_pt=min_pt, delta_r=delta_r)
        ids = sp.particle_id[seeds] if len(seeds) else np.zeros((0, 3), np.int64)
        good = (ids[:, 0] == ids[:, 1]) & (ids[:, 1] == ids[:, 2]) & (ids[:, 0] > 0)
        mid = seeds[:, 1] if len(seeds) else np.zeros(0, np.int64)
        core = _in_core(ev, sp.x[mid], sp.y[mid], sp.z[mid], delta_r)
        n_seeds += int(core.sum())
        n_fake += int((core & ~good).sum())
        f = np.isin(sc["particle_id"], ids[good, 0])
        # duplicates: further good seeds of a scored particle that is already seeded
        g = ids[good & core, 0]
        _, per = np.unique(g[np.isin(g, sc["particle_id"])], return_counts=True)
        n_dup += int((per - 1).sum())
        found.append(f)
        merged.append(sc["merged"])
        pts.append(sc["pt"])
        drs.append(sc["delta_r"])
        jets.append(np.full(len(sc["pt"]), ev.jet_pt))
    return MethodResult(np.concatenate(found), np.concatenate(pts), np.concatenate(drs),
                        np.concatenate(jets), n_seeds, n_fake, n_dup, secs,
                        merged=np.concatenate(merged))


def merge_crossings(windows: Windows, cross: dict[str, np.ndarray], *, merge: float = 0.75
                    ) -> dict[str, np.ndarray]:
    """Crossings (window-pixel ``row``, ``col``, ``prob`` per crossing, with ``window``) in
    module pixel coordinates of the seed layer, those of overlapping windows within
    ``merge`` pixels (row and column) on one module merged (the most probable kept). With
    ``deta`` / ``dphi`` the direction ``eta`` / ``phi`` (window axis + offsets) is added."""
    w = np.asarray(cross["window"], np.int64)
    lay = windows.seed_layer
    module = windows.module[w]
    row = windows.row0[w, lay] + np.asarray(cross["row"], np.float64)
    col = windows.col0[w, lay] + np.asarray(cross["col"], np.float64)
    prob = np.asarray(cross["prob"], np.float64)
    event = windows.event[w]
    order = np.argsort(-prob, kind="stable")
    keep = np.zeros(len(w), dtype=bool)
    taken: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for i in order:
        key = (int(event[i]), int(module[i]))
        near = taken.setdefault(key, [])
        if any(abs(row[i] - r) <= merge and abs(col[i] - c) <= merge for r, c in near):
            continue
        near.append((row[i], col[i]))
        keep[i] = True
    out = {"event": event[keep], "module": module[keep], "row": row[keep], "col": col[keep],
           "prob": prob[keep], "window": w[keep],
           **{k: np.asarray(v)[keep] for k, v in cross.items()
              if k not in ("window", "row", "col", "prob")}}
    if "deta" in out and "dphi" in out:
        # the direction: the window axis plus the predicted offsets
        out["eta"] = windows.axis_eta[w[keep]] + np.asarray(out["deta"], np.float64)
        out["phi"] = _wrap(windows.axis_phi[w[keep]] + np.asarray(out["dphi"], np.float64))
    return out


def _match(sc: dict[str, np.ndarray], module: np.ndarray, row: np.ndarray, col: np.ndarray,
           tolerance: float) -> np.ndarray:
    """Per scored particle, the crossing matched to it one-to-one (-1: none)."""
    n_p, n_c = len(sc["particle_id"]), len(module)
    match = np.full(n_p, -1, dtype=np.int64)
    if n_c == 0 or n_p == 0:
        return match
    same = sc["module"][:, None] == module[None, :]
    dr = np.abs(sc["row"][:, None] - row[None, :])
    dc = np.abs(sc["col"][:, None] - col[None, :])
    pi, ci = np.nonzero(same & (dr <= tolerance) & (dc <= tolerance))
    d2 = dr[pi, ci] ** 2 + dc[pi, ci] ** 2
    used = np.zeros(n_c, dtype=bool)
    for k in np.argsort(d2, kind="stable"):
        if match[pi[k]] < 0 and not used[ci[k]]:
            match[pi[k]] = ci[k]
            used[ci[k]] = True
    return match


def _near(module: np.ndarray, row: np.ndarray, col: np.ndarray, t_module: np.ndarray,
          t_row: np.ndarray, t_col: np.ndarray, tolerance: float) -> np.ndarray:
    """Per crossing: is a true crossing (t_*) within ``tolerance`` pixels on its module."""
    out = np.zeros(len(module), dtype=bool)
    if len(module) == 0 or len(t_module) == 0:
        return out
    for m in np.unique(module):
        c, t = np.flatnonzero(module == m), np.flatnonzero(t_module == m)
        if len(t):
            out[c] = ((np.abs(row[c, None] - t_row[None, t]) <= tolerance)
                      & (np.abs(col[c, None] - t_col[None, t]) <= tolerance)).any(1)
    return out


def match_crossings(sc: dict[str, np.ndarray], module: np.ndarray, row: np.ndarray,
                    col: np.ndarray, *, tolerance: float = 1.0,
                    others: dict[str, np.ndarray] | None = None
                    ) -> tuple[np.ndarray, int, int]:
    """One-to-one matching of crossings to the scored particles' true BPIX2 crossings
    (same module, |Δrow| and |Δcol| <= ``tolerance`` pixels, nearest first). Returns
    (found per particle, fakes, duplicates). An unmatched crossing within ``tolerance``
    of a found particle is a duplicate; one within ``tolerance`` of a true crossing in
    ``others`` (``module``, ``row``, ``col``: other particles) is neither; the rest fake."""
    match = _match(sc, module, row, col, tolerance)
    found = match >= 0
    used = np.zeros(len(module), dtype=bool)
    used[match[found]] = True
    near_found = _near(module, row, col, sc["module"][found], sc["row"][found],
                       sc["col"][found], tolerance)
    dup = ~used & near_found
    rest = ~used & ~near_found
    if others is not None:
        rest &= ~_near(module, row, col, others["module"], others["row"], others["col"],
                       tolerance)
    return found, int(rest.sum()), int(dup.sum())


def _seed_layer_crossings(ev: JetEvent, layer: int = 1) -> dict[str, np.ndarray]:
    cr = ev.crossings
    on = np.asarray(cr["layer"]) == layer
    return {k: np.asarray(cr[k])[on] for k in ("particle_id", "module", "row", "col")}


def seed_deepcore(events: Sequence[JetEvent], predict: Callable[[Windows], dict[str, Any]],
                  *, min_pt: float = 1.0, delta_r: float = 0.1, tolerance: float = 1.0,
                  windows: Windows | None = None) -> MethodResult:
    """DeepCore on ``events``: ``predict(windows)`` gives the fired crossings (``window``,
    ``row``, ``col`` in window pixels, ``prob``, and optionally ``deta``, ``dphi``,
    ``pt``, ``slot``) of the windows of ``events`` (e.g. :func:`crossings` of the model's
    maps). With ``deta`` / ``dphi`` / ``pt`` the result carries the seeds
    (:func:`crossing_seeds`) and the residuals (:func:`crossing_residuals`)."""
    t0 = time.perf_counter()
    win = windows if windows is not None else jet_windows(events, delta_r=delta_r)
    cross = merge_crossings(win, predict(win))
    secs = time.perf_counter() - t0
    found, pts, drs, jets, merged, resid = [], [], [], [], [], []
    n_seeds = n_fake = n_dup = 0
    for ev in events:
        sc = scored_particles(ev, min_pt=min_pt, delta_r=delta_r)
        m = np.flatnonzero(cross["event"] == ev.event_id)
        mod, row, col = cross["module"][m], cross["row"][m], cross["col"][m]
        f, fake, dup = match_crossings(sc, mod, row, col, tolerance=tolerance,
                                       others=_seed_layer_crossings(ev, win.seed_layer))
        n_seeds += len(m)
        n_fake += fake
        n_dup += dup
        found.append(f)
        merged.append(sc["merged"])
        pts.append(sc["pt"])
        drs.append(sc["delta_r"])
        jets.append(np.full(len(f), ev.jet_pt))
        if "deta" in cross:
            r = _residuals(sc, {k: v[m] for k, v in cross.items()})
            r["crossing"] = m[r["crossing"]]
            resid.append(r)
    res = MethodResult(np.concatenate(found), np.concatenate(pts), np.concatenate(drs),
                       np.concatenate(jets), n_seeds, n_fake, n_dup, secs,
                       merged=np.concatenate(merged))
    if "deta" in cross:
        res.residuals = Table({k: np.concatenate([r[k] for r in resid]) for k in resid[0]},
                              name="residuals")
        res.seeds = crossing_seeds(win, cross, events)
    return res


#: Crossings further than this [pixels, rows and columns] from a particle do not count
#: in its resolution.
RESOLUTION_WINDOW = 3.0


def _residuals(sc: dict[str, np.ndarray], cross: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per scored particle with a predicted crossing within ``RESOLUTION_WINDOW`` pixels
    on its module: the nearest (``crossing``: its row in ``cross``), predicted minus true
    row, column, direction, and the predicted pT, with the particle's pT, charge and
    ``merged``."""
    n_p, n_c = len(sc["particle_id"]), len(cross["module"])
    near = np.full(n_p, -1, dtype=np.int64)
    if n_p and n_c:
        same = sc["module"][:, None] == cross["module"][None, :]
        dr = np.abs(sc["row"][:, None] - cross["row"][None, :])
        dc = np.abs(sc["col"][:, None] - cross["col"][None, :])
        ok = same & (dr <= RESOLUTION_WINDOW) & (dc <= RESOLUTION_WINDOW)
        d2 = np.where(ok, dr ** 2 + dc ** 2, np.inf)
        best = np.argmin(d2, axis=1)
        near = np.where(np.isfinite(d2[np.arange(n_p), best]), best, -1)
    has = near >= 0
    c = near[has]
    return {"crossing": c, "pt": sc["pt"][has], "q": sc["q"][has],
            "merged": sc["merged"][has],
            "d_row": cross["row"][c] - sc["row"][has],
            "d_col": cross["col"][c] - sc["col"][has],
            "d_eta": cross["eta"][c] - sc["eta"][has],
            "d_phi": _wrap(cross["phi"][c] - sc["phi"][has]),
            "pt_pred": np.asarray(cross["pt"], np.float64)[c],
            "slot": np.asarray(cross.get("slot", np.zeros(n_c, np.int8)))[c].astype(np.int8)}


def crossing_seeds(windows: Windows, cross: dict[str, np.ndarray],
                   events: Sequence[JetEvent]) -> Table:
    """Seeds from merged DeepCore crossings (:func:`merge_crossings` with ``eta`` / ``phi``
    / ``pt``): per crossing the global point on the seed layer ``x``, ``y``, ``z`` [mm],
    the direction ``eta``, ``phi``, ``pt`` [GeV], the charge ``q`` (from the bending: the
    direction turns away from the vertex-to-point line by ≈ -q·0.3·B·r / (2 pT), so this
    sign is reliable only while that angle exceeds the direction's resolution) and the
    perigee parameters ``d0``, ``z0``, ``phi0``, ``theta``, ``qop`` of that helix
    (:func:`helixkit.fitting.perigee_from_momenta`), which the Kalman fitter and track
    finders start from; plus ``event``, ``module``, ``prob``."""
    by_id = {ev.event_id: ev for ev in events}
    ev_ids = np.asarray(cross["event"], np.int64)
    missing = set(np.unique(ev_ids).tolist()) - set(by_id)
    if missing:
        msg = f"events: crossings of event(s) {sorted(missing)[:5]} but no such JetEvent"
        raise ValueError(msg)
    det = events[0].detector if events else None
    n = len(ev_ids)
    module = np.asarray(cross["module"], np.int64)
    if n == 0 or det is None:
        cols = ("event", "module", "x", "y", "z", "eta", "phi", "pt", "q", "prob", "d0", "z0",
                "phi0", "theta", "qop")
        return Table({c: np.zeros(0, np.int64 if c in ("event", "module") else np.float64)
                      for c in cols}, name="seeds")
    lx, ly = det.from_pixel(module, cross["row"], cross["col"])
    x, y, z = det.to_global(module, lx, ly)
    vtx = np.stack([np.asarray(by_id[int(e)].vertex, np.float64) for e in ev_ids])
    eta = np.asarray(cross["eta"], np.float64)
    phi = np.asarray(cross["phi"], np.float64)
    pt = np.clip(np.asarray(cross["pt"], np.float64), 0.1, None)
    bend = _wrap(phi - np.arctan2(y - vtx[:, 1], x - vtx[:, 0]))
    q = np.where(bend > 0, -1.0, 1.0)
    mom = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=1)
    bfield = float(det.b_field_z)
    params, _ = perigee_from_momenta(np.stack([x, y, z], axis=1), mom, q, b_field_z=bfield)
    return Table({"event": ev_ids, "module": module, "x": x, "y": y, "z": z, "eta": eta,
                  "phi": phi, "pt": pt, "q": q, "prob": np.asarray(cross["prob"], np.float64),
                  "d0": params[:, 0], "z0": params[:, 1], "phi0": params[:, 2],
                  "theta": params[:, 3], "qop": params[:, 4]}, name="seeds")


def efficiency_counts(res: MethodResult, var: str, bins: Sequence[float]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(found, all) scored particles per bin of ``var`` ("pt", "delta_r", "jet_pt"): the
    found / all histograms, the last bin closed as ``numpy.histogram``'s (boost-histogram
    when installed, else numpy)."""
    return pass_total(getattr(res, var), res.found, bins, last_closed=True, name="bins")


def efficiency_curve(res: MethodResult, var: str, bins: Sequence[float]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin centres, efficiency, binomial error) of ``res`` in ``var`` ("pt", "delta_r",
    "jet_pt"); the counts are :func:`efficiency_counts`."""
    edges = np.asarray(bins, np.float64)
    k, n = efficiency_counts(res, var, edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        eff = k / n
    err = np.sqrt(np.clip(eff * (1 - eff), 0, None) / np.maximum(n, 1))
    centre = np.sqrt(edges[1:] * edges[:-1]) if var != "delta_r" else \
        0.5 * (edges[1:] + edges[:-1])
    return centre, eff, err


__all__ = ["DR_BINS", "JET_PT_BINS", "PT_BINS", "RESOLUTION_WINDOW", "MethodResult",
           "crossing_seeds", "efficiency_counts", "efficiency_curve", "match_crossings", "merge_crossings",
           "scored_particles", "seed_baseline", "seed_deepcore"]
