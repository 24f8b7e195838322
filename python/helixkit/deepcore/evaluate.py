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
  any other unmatched crossing is fake.

Efficiency = found / scored particles; fake rate = fake seeds / seeds in the jet core
(seeds whose BPIX2-side point lies within ``delta_r`` of the jet axis); duplicates per
found particle. Also by particle pT, by distance to the jet axis and by jet pT.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .baseline import SpacePoints, jetcore_split, space_points, triplet_seeds
from .simulation import JetEvent
from .windows import Windows, jet_windows

#: Particle pT bins [GeV], ΔR bins and jet pT bins [GeV] of the efficiency curves.
PT_BINS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 2000.0)
DR_BINS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1)
JET_PT_BINS = (500.0, 1000.0, 1500.0, 2000.0, 2500.0, 3000.0)


@dataclass
class MethodResult:
    """Per scored particle (arrays (P,)): ``found``, ``pt``, ``delta_r``, ``jet_pt``;
    ``n_seeds`` / ``n_fake`` / ``n_duplicate`` in the jet core; ``seconds``."""

    found: np.ndarray
    pt: np.ndarray
    delta_r: np.ndarray
    jet_pt: np.ndarray
    n_seeds: int
    n_fake: int
    n_duplicate: int
    seconds: float

    def summary(self, min_pt: float = 0.0) -> dict[str, float]:
        s = self.pt >= min_pt
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
    ΔR to the jet axis, and their true BPIX2 crossings (module, row, col)."""
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
    return {"particle_id": pid[sel], "pt": np.asarray(p["pt"], np.float64)[sel],
            "delta_r": dr[sel], "module": np.asarray(cr["module"], np.int64)[idx],
            "row": np.asarray(cr["row"], np.float64)[idx],
            "col": np.asarray(cr["col"], np.float64)[idx]}


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
    found, pts, drs, jets = [], [], [], []
    n_seeds = n_fake = 0
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
        found.append(np.isin(sc["particle_id"], ids[good, 0]))
        pts.append(sc["pt"])
        drs.append(sc["delta_r"])
        jets.append(np.full(len(sc["pt"]), ev.jet_pt))
    return MethodResult(np.concatenate(found), np.concatenate(pts), np.concatenate(drs),
                        np.concatenate(jets), n_seeds, n_fake, 0, secs)


def merge_crossings(windows: Windows, cross: dict[str, np.ndarray], *, merge: float = 0.75
                    ) -> dict[str, np.ndarray]:
    """Crossings (window-pixel ``row``, ``col``, ``prob`` per crossing, with ``window``) in
    module pixel coordinates of the seed layer, those of overlapping windows within
    ``merge`` pixels (row and column) on one module merged (the most probable kept)."""
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
    return {"event": event[keep], "module": module[keep], "row": row[keep], "col": col[keep],
            "prob": prob[keep], "window": w[keep],
            **{k: np.asarray(v)[keep] for k, v in cross.items()
               if k not in ("window", "row", "col", "prob")}}


def match_crossings(sc: dict[str, np.ndarray], module: np.ndarray, row: np.ndarray,
                    col: np.ndarray, *, tolerance: float = 1.0
                    ) -> tuple[np.ndarray, int, int]:
    """One-to-one matching of crossings to the scored particles' true BPIX2 crossings
    (same module, |Δrow| and |Δcol| <= ``tolerance`` pixels, nearest first). Returns
    (found per particle, fakes, duplicates)."""
    n_p, n_c = len(sc["particle_id"]), len(module)
    if n_c == 0:
        return np.zeros(n_p, dtype=bool), 0, 0
    same = sc["module"][:, None] == module[None, :]
    dr = np.abs(sc["row"][:, None] - row[None, :])
    dc = np.abs(sc["col"][:, None] - col[None, :])
    ok = same & (dr <= tolerance) & (dc <= tolerance)
    pi, ci = np.nonzero(ok)
    d2 = dr[pi, ci] ** 2 + dc[pi, ci] ** 2
    found = np.zeros(n_p, dtype=bool)
    used = np.zeros(n_c, dtype=bool)
    for k in np.argsort(d2, kind="stable"):
        if not found[pi[k]] and not used[ci[k]]:
            found[pi[k]] = used[ci[k]] = True
    near_found = np.zeros(n_c, dtype=bool)
    near_found[ci[found[pi]]] = True
    dup = int((~used & near_found).sum())
    fake = int((~used & ~near_found).sum())
    return found, fake, dup


def seed_deepcore(events: Sequence[JetEvent], predict: Callable[[Windows], dict[str, Any]],
                  *, min_pt: float = 1.0, delta_r: float = 0.1, tolerance: float = 1.0,
                  windows: Windows | None = None) -> MethodResult:
    """DeepCore on ``events``: ``predict(windows)`` gives the fired crossings (``window``,
    ``row``, ``col`` in window pixels, ``prob``, ...) of the windows of ``events``."""
    t0 = time.perf_counter()
    win = windows if windows is not None else jet_windows(events, delta_r=delta_r)
    cross = merge_crossings(win, predict(win))
    secs = time.perf_counter() - t0
    found, pts, drs, jets = [], [], [], []
    n_seeds = n_fake = n_dup = 0
    for ev in events:
        sc = scored_particles(ev, min_pt=min_pt, delta_r=delta_r)
        m = cross["event"] == ev.event_id
        f, fake, dup = match_crossings(sc, cross["module"][m], cross["row"][m],
                                       cross["col"][m], tolerance=tolerance)
        n_seeds += int(m.sum())
        n_fake += fake
        n_dup += dup
        found.append(f)
        pts.append(sc["pt"])
        drs.append(sc["delta_r"])
        jets.append(np.full(len(f), ev.jet_pt))
    return MethodResult(np.concatenate(found), np.concatenate(pts), np.concatenate(drs),
                        np.concatenate(jets), n_seeds, n_fake, n_dup, secs)


def efficiency_curve(res: MethodResult, var: str, bins: Sequence[float]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin centres, efficiency, binomial error) of ``res`` in ``var`` ("pt", "delta_r",
    "jet_pt")."""
    v = getattr(res, var)
    edges = np.asarray(bins, np.float64)
    n, _ = np.histogram(v, edges)
    k, _ = np.histogram(v[res.found], edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        eff = k / n
    err = np.sqrt(np.clip(eff * (1 - eff), 0, None) / np.maximum(n, 1))
    centre = np.sqrt(edges[1:] * edges[:-1]) if var != "delta_r" else \
        0.5 * (edges[1:] + edges[:-1])
    return centre, eff, err


__all__ = ["DR_BINS", "JET_PT_BINS", "PT_BINS", "MethodResult", "efficiency_curve",
           "match_crossings", "merge_crossings", "scored_particles", "seed_baseline",
           "seed_deepcore"]
