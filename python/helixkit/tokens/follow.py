"""Next-hit predictions of the next-hit model and its two baselines, and track following.

- :func:`predict_next_hits`: the :class:`~helixkit.tokens.nexthit.NextHitModel`'s next layer,
  token and position at every step of every track (teacher-forced: the true hits so far);
  the position is predicted for the predicted layer (the helix prior to that layer).
- :func:`token_only_next_hits`: the token-only model's next token, decoded to a position by
  the tokeniser's first level.
- :func:`helix_next_hits`: the helix through the last three hits, to the layer it meets next.
- :func:`follow`: from each track's first three hits, "predict the next layer and position →
  take the nearest hit on that layer inside the window → append", for the model or the helix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data import Event
from ..data.geometry import BARREL, Geometry
from ..graph import knn_graph
from .data import hit_sample
from .helix import helix_to_layer, navigate, track_helix
from .nexthit import NextHitModel, tokenizer_digest
from .sequences import TrackSequences, helix_next_layers, rotate

#: Tracks per forward pass of the model (with length-sorted tracks, smaller batches pad less;
#: 1,024 was the fastest on 2 cores, benchmarks/bench_next_hit.py).
BATCH = 1024


def check_tokenizer(model: NextHitModel, tokenizer: Any) -> None:
    """``ValueError`` unless ``tokenizer`` is the one ``model`` was trained on."""
    want = model.config.tokenizer
    if want and tokenizer_digest(tokenizer) != want:
        msg = (f"tokenizer: fingerprint {tokenizer_digest(tokenizer)} is not the one this "
               f"next-hit model was trained with ({want})")
        raise ValueError(msg)


def _tensors(tokens: np.ndarray, local: np.ndarray, layer: np.ndarray, length: np.ndarray,
             helix_layer: np.ndarray) -> tuple[torch.Tensor, ...]:
    return (torch.from_numpy(tokens), torch.from_numpy(local).float(),
            torch.from_numpy(layer), torch.from_numpy(length), torch.from_numpy(helix_layer))


@torch.no_grad()
def _model_step(model: NextHitModel, geometry: Geometry | None, xyz: np.ndarray,
                tokens: np.ndarray, layer: np.ndarray, length: np.ndarray, angle: np.ndarray,
                helix_layer: np.ndarray, steps: np.ndarray | None = None,
                tokens_out: bool = True) -> dict[str, np.ndarray]:
    """Predictions at ``steps`` (n,) (outputs (n, 1)) or, by default, at every step inside
    each track (outputs (n, T); zero past a track's end) of tracks (n, T). The heads run on
    those steps only, not on the padding; ``tokens_out=False`` skips the next-token head
    (a full model's layer and position do not need it)."""
    cfg = model.config
    n = len(length)
    T = max(int(length.max()), 1) if n else 1
    xyz, tokens, layer, helix_layer = xyz[:, :T], tokens[:, :T], layer[:, :T], \
        helix_layer[:, :T]
    local = rotate(xyz, -angle)
    h = model.encode(*_tensors(tokens, local, layer, length, helix_layer))
    if steps is not None:
        ii, tt = np.arange(n), np.asarray(steps, np.int64)
        shape: tuple[int, int] = (n, 1)
        flat = ii
    else:
        ii, tt = np.nonzero(np.arange(T)[None, :] < length[:, None])
        shape = (n, T)
        flat = ii * T + tt
    h = h[torch.from_numpy(ii), torch.from_numpy(tt)]          # (N, d): the asked steps
    local_s = local[ii, tt]

    def scatter(v: np.ndarray) -> np.ndarray:
        o = np.zeros((shape[0] * shape[1],) + v.shape[1:], v.dtype)
        o[flat] = v
        return o.reshape(shape + v.shape[1:])

    out: dict[str, np.ndarray] = {}
    if tokens_out or cfg.inputs != "full":
        out["token"] = scatter(model.token_logits(h).argmax(-1).numpy())
    if cfg.inputs != "full":
        return out
    lay = model.layer_logits(h).argmax(-1).numpy()
    prior = np.zeros(local_s.shape)
    ok = np.zeros(len(lay), dtype=bool)
    if cfg.helix_prior and geometry is not None:
        k = np.flatnonzero((tt >= 2) & (lay != cfg.end_class))
        if len(k):
            i, t = ii[k], tt[k]
            hx = track_helix(xyz, i, t)
            pos, found = helix_to_layer(hx, geometry, np.minimum(lay[k], len(geometry) - 1))
            prior[k] = rotate(pos[:, None, :], -angle[i])[:, 0]
            ok[k] = found & (lay[k] < len(geometry))
    pred = model.position(h, torch.from_numpy(local_s).float(), torch.from_numpy(lay),
                          torch.from_numpy(prior).float(), torch.from_numpy(ok)).numpy()
    out["layer"] = scatter(lay)
    out["xyz"] = scatter(rotate(pred.astype(np.float64)[:, None, :], angle[ii])[:, 0])
    out["prior_ok"] = scatter(ok)
    return out


def predict_next_hits(model: NextHitModel, seqs: TrackSequences, geometry: Geometry | None,
                      *, tokens: bool = True) -> dict[str, np.ndarray]:
    """The model's next token (n, T; not with ``tokens=False``), next layer (n, T;
    ``end_class``: the track ends) and next position (n, T, 3) [mm] at every step (from the
    true hits up to it)."""
    model.eval()
    n, T = len(seqs), seqs.max_len
    # length-bucketed batches: tracks sorted by length, so a batch pads to its own longest
    order = np.argsort(seqs.length, kind="stable")
    out: dict[str, np.ndarray] = {}
    for s in range(0, n, BATCH):
        sl = order[s:s + BATCH]
        p = _model_step(model, geometry, seqs.xyz[sl], seqs.tokens[sl], seqs.layer[sl],
                        seqs.length[sl], seqs.angle[sl], seqs.helix_layer[sl],
                        tokens_out=tokens)
        for k, v in p.items():
            if k not in out:
                out[k] = np.zeros((n, T) + v.shape[2:], v.dtype)
            out[k][sl, :v.shape[1]] = v
    return out


def token_only_next_hits(model: NextHitModel, tokenizer: Any, seqs: TrackSequences
                         ) -> dict[str, np.ndarray]:
    """The token-only model's next token (n, T) and its position (n, T, 3): the tokeniser's
    decoding of that level-0 code (the finer levels unknown: zero residual)."""
    pred = predict_next_hits(model, seqs, None)["token"]
    book = tokenizer.quantizer.codebook[0]
    with torch.no_grad():
        z = book[torch.from_numpy(pred.reshape(-1))]
        lay = None
        if tokenizer.config.layer_input:      # (the true next layer: a generous baseline)
            lay = torch.from_numpy(np.clip(np.roll(seqs.layer, -1, 1).reshape(-1), 0, None))
        xyz = tokenizer.decode_latent(z, lay).numpy().astype(np.float64)
    return {"token": pred, "xyz": xyz.reshape(pred.shape + (3,))}


def helix_next_hits(seqs: TrackSequences, geometry: Geometry, *, lever_arm: bool = False
                    ) -> dict[str, np.ndarray]:
    """The helix through hits t-2, t-1, t (``lever_arm``: hits 0, (t + 1) // 2, t) at every
    step t >= 2: the layer it meets next and where (-1 / NaN where it meets none)."""
    n, T = seqs.layer.shape
    layer = np.full((n, T), -1, np.int64)
    xyz = np.full((n, T, 3), np.nan)
    for t in range(2, T):
        sel = np.flatnonzero(seqs.length > t)
        if len(sel) == 0:
            continue
        lay, pos, found = navigate(track_helix(seqs.xyz, sel, t, lever_arm=lever_arm),
                                   geometry)
        layer[sel, t] = np.where(found, lay, -1)
        xyz[sel[found], t] = pos[found]
    return {"layer": layer, "xyz": xyz}


# ---------------------------------------------------------------------- track following
@dataclass
class FollowResult:
    """Tracks followed from seeds: ``rows`` (n, T) hit rows (-1: none, or a hole), ``length``
    (n,) steps taken (seed included), ``holes`` (n,)."""

    rows: np.ndarray
    length: np.ndarray
    holes: np.ndarray


class _LayerIndex:
    """Per layer: its hits and a lookup of the nearest ones (native kNN)."""

    def __init__(self, xyz: np.ndarray, layer: np.ndarray, n_layers: int) -> None:
        self.xyz = xyz
        order = np.argsort(layer, kind="stable")
        self.rows = order
        self.start = np.searchsorted(layer[order], np.arange(n_layers + 1))

    def candidates(self, li: int, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(query index, hit row) pairs: the k nearest hits of layer ``li`` to each query."""
        rows = self.rows[self.start[li]:self.start[li + 1]]
        if len(rows) == 0 or len(query) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        kk = min(k, len(rows))
        db = np.ascontiguousarray(self.xyz[rows], dtype=np.float32)
        if len(rows) == 1:
            return np.arange(len(query)), np.repeat(rows, len(query))
        ei = knn_graph(db, kk, query=np.ascontiguousarray(query, dtype=np.float32),
                       n_threads=1)
        return ei[1], rows[ei[0]]


def _local_residual(geometry: Geometry, layer: np.ndarray, pred: np.ndarray, hit: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(Δu, Δv) [mm] of hits from predictions on a layer: u = r·φ, v = z (barrel) or r."""
    g = geometry.arrays()
    barrel = g["kind"][layer] == BARREL
    r_p, r_h = np.hypot(pred[:, 0], pred[:, 1]), np.hypot(hit[:, 0], hit[:, 1])
    dphi = np.angle(np.exp(1j * (np.arctan2(hit[:, 1], hit[:, 0])
                                 - np.arctan2(pred[:, 1], pred[:, 0]))))
    du = 0.5 * (r_p + r_h) * dphi
    dv = np.where(barrel, hit[:, 2] - pred[:, 2], r_h - r_p)
    return du, dv


def _pick(geometry: Geometry, index: _LayerIndex, layer: np.ndarray, pred: np.ndarray,
          used: np.ndarray, window: float, k: int = 8) -> np.ndarray:
    """For each prediction (on its layer) the best hit inside the window, -1: none.

    A hit is inside when |Δu| <= window and |Δv| <= window + 3 σ_v (the layer's coarse
    axis); the best is the smallest (Δu/σ'_u)² + (Δv/σ'_v)², σ' = sqrt(σ² + (window/3)²).
    ``used`` (n, m): hit rows already on each track (not taken again)."""
    g = geometry.arrays()
    out = np.full(len(pred), -1, np.int64)
    for li in np.unique(layer):
        sel = np.flatnonzero(layer == li)
        q, rows = index.candidates(int(li), pred[sel], k)
        if len(q) == 0:
            continue
        du, dv = _local_residual(geometry, np.full(len(q), li), pred[sel][q], index.xyz[rows])
        su, sv = g["sigma_u"][li], g["sigma_v"][li]
        inside = (np.abs(du) <= window) & (np.abs(dv) <= window + 3 * sv)
        inside &= ~(used[sel][q] == rows[:, None]).any(1)
        s2 = (window / 3) ** 2
        score = np.where(inside, du * du / (su * su + s2) + dv * dv / (sv * sv + s2), np.inf)
        order = np.lexsort((rows, score, q))     # per query: best score, then lower row
        q, score, rows = q[order], score[order], rows[order]
        first = np.r_[True, q[1:] != q[:-1]] & np.isfinite(score)
        out[sel[q[first]]] = rows[first]
    return out


Predictor = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                     tuple[np.ndarray, np.ndarray, np.ndarray]]


def model_predictor(model: NextHitModel, geometry: Geometry) -> Predictor:
    """The next-hit model as a follower's predictor: (xyz, tokens, layer, length, angle) of
    tracks, the helix's next layers → (next layer, next position, found)."""
    def predict(xyz: np.ndarray, tokens: np.ndarray, layer: np.ndarray, length: np.ndarray,
                angle: np.ndarray, helix_layer: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = _model_step(model, geometry, xyz, tokens, layer, length, angle, helix_layer,
                        steps=length - 1, tokens_out=False)
        lay = p["layer"][:, 0]
        found = lay < len(geometry)
        return np.minimum(lay, len(geometry) - 1), p["xyz"][:, 0], found
    return predict


def helix_predictor(geometry: Geometry, *, lever_arm: bool = False) -> Predictor:
    """The helix through the last three hits (``lever_arm``: the first, middle and last) as
    a follower's predictor."""
    def predict(xyz: np.ndarray, tokens: np.ndarray, layer: np.ndarray, length: np.ndarray,
                angle: np.ndarray, helix_layer: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        h = track_helix(xyz, np.arange(len(length)), length - 1, lever_arm=lever_arm)
        return navigate(h, geometry)
    return predict


def follow(event: Event, seeds: np.ndarray, predictor: Predictor, *, tokenizer: Any = None,
           window: float = 10.0, max_holes: int = 1, max_len: int = 32, batch: int = BATCH
           ) -> FollowResult:
    """Follow tracks from ``seeds`` (n, 3) hit rows of ``event`` (in propagation order).

    Each step predicts the next layer and position, takes the best hit on that layer inside
    ``window`` (:func:`_pick`) and appends it; without one the track gets a hole (the
    predicted position stands in for the hit, tokenised like one) until ``max_holes`` is
    exceeded, when it stops; it also stops when the predictor says the track ends, or at
    ``max_len`` steps. Trailing holes are dropped."""
    seeds = np.asarray(seeds, dtype=np.int64)
    if seeds.ndim != 2 or seeds.shape[1] != 3:
        msg = f"seeds must have shape (n, 3) (three hit rows per seed), got {seeds.shape}"
        raise ValueError(msg)
    if len(seeds) and (seeds.min() < 0 or seeds.max() >= event.n_hits):
        msg = f"seeds: hit rows must be in [0, {event.n_hits}), got {seeds.min()}..{seeds.max()}"
        raise ValueError(msg)
    if not window > 0 or not np.isfinite(window):
        msg = f"window must be finite and > 0 mm, got {window}"
        raise ValueError(msg)
    geo = event.geometry
    if geo is None:
        msg = "event: no geometry (track following needs the layers' shapes)"
        raise ValueError(msg)
    sample = hit_sample([event])
    levels = tokenizer.config.levels if tokenizer is not None else 1
    with_layer = tokenizer is not None and tokenizer.config.layer_input
    tok_all = tokenizer.encode(sample.xyz, sample.layer if with_layer else None) \
        if tokenizer is not None else np.zeros((len(sample), 1), np.int64)
    index = _LayerIndex(sample.xyz.astype(np.float64), sample.layer, len(geo))
    n = len(seeds)
    T = max_len
    rows = np.full((n, T), -1, np.int64)
    xyz = np.zeros((n, T, 3))
    layer = np.zeros((n, T), np.int64)
    tokens = np.zeros((n, T, levels), np.int64)
    rows[:, :3] = seeds
    xyz[:, :3] = sample.xyz[seeds]
    layer[:, :3] = sample.layer[seeds]
    tokens[:, :3] = tok_all[seeds]
    length = np.full(n, 3, np.int64)
    holes = np.zeros(n, np.int64)
    angle = np.arctan2(xyz[:, 0, 1], xyz[:, 0, 0])
    hlayer = np.full((n, T), -1, np.int64)
    hlayer[:, 2] = helix_next_layers(xyz, np.arange(n), np.full(n, 2), geo)
    active = np.ones(n, dtype=bool)
    while active.any():
        act = np.flatnonzero(active & (length < T))
        active[:] = False
        for s in range(0, len(act), batch):
            a = act[s:s + batch]
            lay, pos, found = predictor(xyz[a], tokens[a], layer[a], length[a], angle[a],
                                        hlayer[a])
            a, lay, pos = a[found], lay[found], pos[found]
            if len(a) == 0:
                continue
            hit = _pick(geo, index, lay, pos, rows[a], window)
            ok = hit >= 0
            hole = ~ok & (holes[a] < max_holes)
            go = ok | hole
            a, lay, pos, hit, ok = a[go], lay[go], pos[go], hit[go], ok[go]
            t = length[a]
            rows[a, t] = hit
            xyz[a, t] = np.where(ok[:, None], sample.xyz[np.maximum(hit, 0)], pos)
            layer[a, t] = lay
            tokens[a[ok], t[ok]] = tok_all[hit[ok]]
            if tokenizer is not None and not ok.all():     # a hole: tokenise the prediction
                h = ~ok
                tokens[a[h], t[h]] = tokenizer.encode(xyz[a[h], t[h]].astype(np.float32),
                                                      lay[h] if with_layer else None)
            holes[a] += ~ok
            hlayer[a, t] = helix_next_layers(xyz, a, t, geo)
            length[a] += 1
            active[a] = True
    # trailing holes are not part of the track
    for _ in range(max_holes):
        tail = (length > 3) & (rows[np.arange(n), np.maximum(length - 1, 0)] < 0)
        length[tail] -= 1
        holes[tail] -= 1
    return FollowResult(rows, length, holes)


def following_efficiency(event: Event, seed_pid: np.ndarray, res: FollowResult
                         ) -> dict[str, np.ndarray]:
    """Per followed track: its particle's hits found (fraction of all of its hits, seed
    included) and whether the particle holds the majority of the track's hits."""
    pid = event.hit_particle_id
    n_hits = np.bincount(np.searchsorted(np.unique(pid), pid))
    uniq = np.unique(pid)
    frac, majority = np.zeros(len(seed_pid)), np.zeros(len(seed_pid), dtype=bool)
    for i, p in enumerate(seed_pid):
        r = res.rows[i, :res.length[i]]
        r = r[r >= 0]
        mine = int((pid[r] == p).sum())
        total = int(n_hits[np.searchsorted(uniq, p)])
        frac[i] = mine / max(total, 1)
        majority[i] = mine * 2 > len(r)
    return {"fraction": frac, "majority": majority}


__all__ = ["FollowResult", "check_tokenizer", "follow", "following_efficiency",
           "helix_next_hits", "helix_predictor", "model_predictor", "predict_next_hits",
           "token_only_next_hits"]
