"""TrackFormer: transformer regression of track parameters from a track's hits.

Hit sequences → linear hit embedding (+ input dropout) → transformer encoder
(padding masked) → masked mean pooling → MLP head. Targets are standardised;
the mean and std are buffers of the model, so a checkpoint predicts in
physical units. With ``loss="quantile"`` the head predicts several quantiles
at once (pinball loss); the point prediction is the median.

With ``prior="helix"`` (inputs ``r_dphi_z_helix``, a q/pT target) the q/pT
output is a correction to the three-point helix estimate, ``prior_coef`` × the
curvature of the circle through the first, middle and last hit (the
coefficient, −1/(0.2998 B) for a uniform field, is fitted on the training
data). The network then learns the residual (measurement noise and scattering,
which the other hits constrain) on its own scale instead of reproducing q/pT
to 10⁻³ of its range: a regression network's output noise floor, a fixed
fraction of the target's spread, is what limits the plain model at high pT.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._files import atomic_path
from .._validation import require
from ..data import CutFlow, Event
from ..data.selection import select_particles
from ..fitting import perigee_from_momenta
from ..nn.registry import register_model

INPUT_SETS = ("xyz", "r_phi_z", "r_dphi_z", "r_dphi_z_helix")
#: Features per hit of each input set.
N_FEATURES = {"xyz": 3, "r_phi_z": 3, "r_dphi_z": 3, "r_dphi_z_helix": 6}
TARGET_SETS = {
    "pt_pz": ("pt", "pz"),
    "qopt_pz": ("q_over_pt", "pz"),
    "qpt_pz": ("q_times_pt", "pz"),
    # The full perigee set (w.r.t. the z axis), in a form a rotation-invariant
    # model can learn: q/pT [1/GeV], cot(theta), d0 [mm], z0 [mm] and
    # dphi0 = phi0 - phi(first hit), wrapped to (-pi, pi] [rad]. ACTS's
    # (d0, z0, phi, theta, q/p) follow: phi0 = phi(first hit) + dphi0,
    # theta = atan2(1, cot theta), q/p = q/pT * sin(theta) (``predict`` adds them).
    "perigee": ("q_over_pt", "cot_theta", "d0", "z0", "dphi0"),
}


@dataclass
class TrackFormerConfig:
    """Model and data settings (lengths in mm, momenta in GeV)."""

    inputs: str = "r_dphi_z"
    targets: str = "qopt_pz"
    truth_positions: bool = False
    max_hits: int = 32
    model_dim: int = 128
    n_heads: int = 4
    n_layers: int = 2
    dropout: float = 0.1
    input_dropout: float = 0.1
    loss: str = "mse"
    #: "none" or "helix": predict q/pT as a correction to prior_coef × κ(first, middle, last hit).
    prior: str = "none"
    #: Coefficient of the helix prior (set by training).
    prior_coef: float = 0.0
    quantiles: list[float] = field(default_factory=lambda: [0.16, 0.5, 0.84])
    #: Target standardisation (set by training); empty = identity.
    target_mean: list[float] = field(default_factory=list)
    target_std: list[float] = field(default_factory=list)

    def validate(self) -> None:
        require(self.inputs in INPUT_SETS, self, "inputs", f"must be one of {INPUT_SETS}")
        require(self.targets in TARGET_SETS, self, "targets", f"must be one of {tuple(TARGET_SETS)}")
        require(self.max_hits >= 3, self, "max_hits", "must be >= 3")
        require(self.model_dim >= 8 and self.model_dim % self.n_heads == 0, self, "model_dim",
             "must be >= 8 and divisible by n_heads")
        require(self.n_heads >= 1, self, "n_heads", "must be >= 1")
        require(self.n_layers >= 1, self, "n_layers", "must be >= 1")
        require(0 <= self.dropout < 1, self, "dropout", "must be in [0, 1)")
        require(0 <= self.input_dropout < 1, self, "input_dropout", "must be in [0, 1)")
        require(self.loss in ("mse", "quantile"), self, "loss", "must be 'mse' or 'quantile'")
        require(self.prior in ("none", "helix"), self, "prior", "must be 'none' or 'helix'")
        if self.prior == "helix":
            require(self.inputs == "r_dphi_z_helix", self, "prior",
                    "'helix' needs inputs='r_dphi_z_helix' (the curvature feature)")
            require(TARGET_SETS[self.targets][0] == "q_over_pt", self, "prior",
                    "'helix' needs a q/pT target (targets 'qopt_pz' or 'perigee')")
        require(math.isfinite(self.prior_coef), self, "prior_coef", "must be finite")
        require(len(self.quantiles) >= 1 and all(0 < q < 1 for q in self.quantiles), self, "quantiles",
             "must be a non-empty list of values in (0, 1)")
        n_t = len(TARGET_SETS[self.targets])
        require(len(self.target_mean) in (0, n_t), self, "target_mean", f"must have {n_t} values (or none)")
        require(len(self.target_std) in (0, n_t) and min(self.target_std, default=1.0) > 0, self,
                "target_std", f"must have {n_t} positive values (or none)")


# ----------------------------------------------------------------------------- data


@dataclass
class TrackSequences:
    """Padded per-particle hit sequences of one or more events."""

    hits: np.ndarray  # (P, L, n_features) float32 input features
    mask: np.ndarray  # (P, L) bool, True = real hit
    targets: np.ndarray  # (P, n_targets) float64 in physical units
    particle_id: np.ndarray  # (P,) int64
    pt: np.ndarray  # (P,) true pT [GeV]
    eta: np.ndarray  # (P,) true eta
    q: np.ndarray  # (P,) charge
    xyz: np.ndarray  # (P, L, 3) global positions [mm] (for baselines)
    event_index: np.ndarray  # (P,) position of the particle's event in the input list
    perigee: np.ndarray | None = None  # (P, 5) true (d0, z0, phi0, theta, q/p), ACTS convention
    cutflow: CutFlow | None = None

    def __len__(self) -> int:
        return len(self.particle_id)


def _features(xyz: np.ndarray, mask: np.ndarray, inputs: str) -> np.ndarray:
    """Per-hit input features (P, L, N_FEATURES[inputs]) float32; padding is zero.

    ``r_dphi_z_helix`` adds, to r, φ − φ(first hit) and z, three helix features
    of each hit i (first hit = the sequence's first, last = its last real hit):
    * κ_beam,i [1/m]: signed curvature of the circle through the beam line
      (origin), the first hit and hit i, 2 sin(φ_i − φ_1) / |p_i − p_1| in the
      transverse plane (zero on the first hit);
    * κ_i [1/m]: signed curvature of the circle through the first hit, hit i and
      the last hit (zero on those two) — no beam-line assumption, so it holds for
      displaced tracks and is free of the beam pipe's scattering; the middle
      hit's value is the classical three-point estimate;
    * t_i = (z_i − z_1) / (s_i − s_1), s the transverse arc length from the
      origin on the beam-line circle (zero on the first hit).

    For a particle in a uniform field κ ∝ q/pT and t = cot θ: the network
    combines per-hit estimates instead of resolving a 10⁻⁴ rad sagitta from raw
    coordinates. Positive curvature = counter-clockwise (negative charge in +B_z).
    Clipped to |κ| ≤ 10/m (pT ≈ 60 MeV at 2 T; hits close together give noisy
    values), |t| ≤ 20.
    """
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    if inputs == "xyz":
        f = np.stack([x, y, z], -1) / 1000.0
    else:
        r = np.hypot(x, y)
        phi = np.arctan2(y, x)
        if inputs in ("r_dphi_z", "r_dphi_z_helix"):
            phi = _wrap(phi - phi[:, :1])
        cols = [r / 1000.0, phi / math.pi, z / 1000.0]
        if inputs == "r_dphi_z_helix":
            cols += list(_helix_features(xyz, mask, phi, r))
        f = np.stack(cols, -1)
    return np.where(mask[..., None], f, 0.0).astype(np.float32)


def _helix_features(xyz: np.ndarray, mask: np.ndarray, dphi: np.ndarray, r: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(κ_beam, κ [1/m], t) of every hit; see :func:`_features`."""
    first = xyz[:, :1, :2]
    last = xyz[np.arange(len(xyz)), _last_index(mask), :2][:, None]
    cur = xyz[..., :2]
    d_first = np.hypot(*np.moveaxis(cur - first, -1, 0))
    d_last = np.hypot(*np.moveaxis(last - cur, -1, 0))
    d_span = np.hypot(*np.moveaxis(last - first, -1, 0))
    u, v = cur - first, last - first
    cross = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa_beam = np.where(d_first > 1e-6, 2.0 * np.sin(dphi) / d_first, 0.0)  # 1/mm
        denom = d_first * d_last * d_span
        kappa = np.where((d_first > 1e-6) & (d_last > 1e-6), 2.0 * cross / denom, 0.0)
        # arc length from the origin: s = 2 asin(r κ / 2) / κ (→ r for κ → 0)
        half = np.clip(0.5 * r * np.abs(kappa_beam), 0.0, 1.0)
        s = np.where(half > 1e-9, 2.0 * np.arcsin(half) / np.maximum(np.abs(kappa_beam), 1e-300),
                     r)
        ds = s - s[:, :1]
        slope = np.where(np.abs(ds) > 1e-6, (xyz[..., 2] - xyz[:, :1, 2]) / ds, 0.0)
    return (np.clip(kappa_beam * 1000.0, -10.0, 10.0), np.clip(kappa * 1000.0, -10.0, 10.0),
            np.clip(slope, -20.0, 20.0))


def _last_index(mask: np.ndarray) -> np.ndarray:
    """Index of each row's last True (0 for an all-False row)."""
    mask = np.asarray(mask, bool)
    return np.where(mask.any(1), mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1), 0)


def _middle_kappa(hits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """κ feature (column 4) of each sequence's middle real hit (the ⌊n/2⌋-th, 0-based), (B,)."""
    m = mask.to(torch.int64)
    rank = torch.cumsum(m, 1) - 1
    n = m.sum(1, keepdim=True)
    mid = torch.argmax((mask & (rank == torch.div(n, 2, rounding_mode="floor"))).to(torch.int32),
                       dim=1)
    return torch.gather(hits[..., 4], 1, mid.unsqueeze(1)).squeeze(1)


def middle_hit_curvature(hits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """κ feature (first, middle, last hit: the three-point curvature [1/m]) of each
    sequence's middle real hit (the ⌊n/2⌋-th, 0-based), (P,), from ``r_dphi_z_helix``
    features; the helix prior's input."""
    return _middle_kappa(torch.from_numpy(np.asarray(hits)),
                         torch.from_numpy(np.asarray(mask, bool))).double().numpy()


def _wrap(a: np.ndarray) -> np.ndarray:
    """Angle wrapped to (-pi, pi]."""
    return np.pi - np.mod(np.pi - a, 2 * np.pi)


def first_hit_phi(xyz: np.ndarray) -> np.ndarray:
    """Azimuth of each sequence's first hit, (P,) from (P, L, 3) positions."""
    return np.arctan2(xyz[:, 0, 1], xyz[:, 0, 0])


def perigee_from_targets(values: np.ndarray, phi_first: np.ndarray) -> np.ndarray:
    """ACTS perigee (d0, z0, phi0, theta, q/p), (P, 5), from "perigee" target values."""
    theta = np.arctan2(1.0, values[:, 1])
    return np.stack([values[:, 2], values[:, 3], _wrap(phi_first + values[:, 4]), theta,
                     values[:, 0] * np.sin(theta)], 1)


def _targets(pt: np.ndarray, pz: np.ndarray, q: np.ndarray, targets: str,
             perigee: np.ndarray | None = None, phi_first: np.ndarray | None = None) -> np.ndarray:
    if targets == "pt_pz":
        return np.stack([pt, pz], 1)
    if targets == "qopt_pz":
        return np.stack([q / pt, pz], 1)
    if targets == "perigee":
        assert perigee is not None and phi_first is not None
        return np.stack([q / pt, pz / pt, perigee[:, 0], perigee[:, 1],
                         _wrap(perigee[:, 2] - phi_first)], 1)
    return np.stack([q * pt, pz], 1)


def targets_to_pt(values: np.ndarray, targets: str) -> np.ndarray:
    """pT [GeV] from predicted targets (|x| for pT and q·pT, 1/|x| for q/pT: the
    ``qopt_pz`` and ``perigee`` sets)."""
    first = values[:, 0]
    if TARGET_SETS[targets][0] == "q_over_pt":
        return 1.0 / np.maximum(np.abs(first), 1e-9)
    return np.abs(first)


def build_sequences(
    events: Event | Sequence[Event],
    config: TrackFormerConfig,
    *,
    min_hits: int = 3,
    pt: tuple[float | None, float | None] = (0.5, 10.0),
    max_vxy: float | None = 1.0,
    max_abs_eta: float | None = 1.0,
    primary_only: bool = True,
    strict_length: bool = True,
) -> TrackSequences:
    """Hit sequences of the selected particles of ``events`` (an Event or a list).

    Hits are ordered along the track by distance from the production vertex.
    Particles with more than ``config.max_hits`` hits raise a ``ValueError``
    (``strict_length``) or are dropped.
    """
    if not isinstance(events, (list, tuple)):
        events = [events]
    parts_all: dict[str, list[np.ndarray]] = {
        k: [] for k in ("hits", "mask", "pid", "pt", "eta", "q", "pz", "xyz", "ev", "perigee")}
    cutflow = None
    L = config.max_hits
    for ev_index, ev in enumerate(events):
        sel, cutflow = select_particles(ev, min_hits=min_hits, pt=pt, max_vxy=max_vxy,
                                        max_abs_eta=max_abs_eta, primary_only=primary_only)
        parts = ev.particles
        keep_pid = np.asarray(parts["particle_id"])[sel]
        pid = ev.hit_particle_id
        rows = np.flatnonzero(np.isin(pid, keep_pid))
        if len(keep_pid) == 0:
            continue
        cols = ("tx", "ty", "tz") if config.truth_positions else ("x", "y", "z")
        table = ev.truth if config.truth_positions else ev.hits
        pos = np.stack([np.asarray(table[c], np.float64)[rows] for c in cols], 1)
        prow_of = {int(p): i for i, p in enumerate(np.asarray(parts["particle_id"]))}
        prow = np.array([prow_of[int(p)] for p in keep_pid], dtype=np.int64)
        vtx = np.stack([np.asarray(parts[c], np.float64) for c in ("vx", "vy", "vz")], 1)
        k_of_hit = np.searchsorted(keep_pid, pid[rows]) if np.all(np.diff(keep_pid) > 0) else None
        if k_of_hit is None:
            order_p = np.argsort(keep_pid)
            keep_pid, prow = keep_pid[order_p], prow[order_p]
            k_of_hit = np.searchsorted(keep_pid, pid[rows])
        d = np.linalg.norm(pos - vtx[prow[k_of_hit]], axis=1)
        order = np.lexsort((d, k_of_hit))
        k_sorted = k_of_hit[order]
        counts = np.bincount(k_sorted, minlength=len(keep_pid))
        if counts.max(initial=0) > L:
            if strict_length:
                bad = int(keep_pid[np.argmax(counts)])
                msg = (f"particle {bad} has {counts.max()} hits, more than the model's "
                       f"max_hits={L}")
                raise ValueError(msg)
        slot = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
        ok = slot < L
        xyz = np.zeros((len(keep_pid), L, 3))
        mask = np.zeros((len(keep_pid), L), bool)
        xyz[k_sorted[ok], slot[ok]] = pos[order][ok]
        mask[k_sorted[ok], slot[ok]] = True
        good = mask.sum(1) >= 3
        pxy = np.stack([np.asarray(parts[c], np.float64)[prow] for c in ("px", "py", "pz")], 1)
        ptv = np.hypot(pxy[:, 0], pxy[:, 1])
        parts_all["hits"].append(_features(xyz, mask, config.inputs)[good])
        parts_all["mask"].append(mask[good])
        parts_all["xyz"].append(xyz[good])
        parts_all["pid"].append(keep_pid[good])
        parts_all["pt"].append(ptv[good])
        parts_all["pz"].append(pxy[good, 2])
        parts_all["eta"].append(np.arcsinh(pxy[good, 2] / ptv[good]))
        parts_all["q"].append(np.asarray(parts["q"], np.float64)[prow][good])
        parts_all["ev"].append(np.full(int(good.sum()), ev_index, dtype=np.int64))
        parts_all["perigee"].append(_true_perigee(ev, vtx[prow][good], pxy[good],
                                                  parts_all["q"][-1]))
    if not parts_all["pid"]:
        msg = "no particles pass the selection: nothing to build sequences from"
        raise ValueError(msg)
    cat = {k: np.concatenate(v) for k, v in parts_all.items()}
    if not np.isfinite(cat["hits"]).all():
        msg = "hit positions contain NaN or inf"
        raise ValueError(msg)
    return TrackSequences(
        hits=cat["hits"], mask=cat["mask"],
        targets=_targets(cat["pt"], cat["pz"], cat["q"], config.targets, cat["perigee"],
                         first_hit_phi(cat["xyz"])),
        particle_id=cat["pid"], pt=cat["pt"], eta=cat["eta"], q=cat["q"], xyz=cat["xyz"],
        event_index=cat["ev"], perigee=cat["perigee"], cutflow=cutflow,
    )


def _true_perigee(event: Event, vertex: np.ndarray, momentum: np.ndarray, q: np.ndarray) -> np.ndarray:
    """True perigee (d0, z0, phi0, theta, q/p) w.r.t. the z axis, from the production vertex."""
    if len(vertex) == 0:
        return np.zeros((0, 5))
    params, _ = perigee_from_momenta(vertex, momentum, q, b_field_z=event.geometry.b_field_z)
    return np.asarray(params, dtype=np.float64)


# ----------------------------------------------------------------------------- model


@register_model("trackformer", TrackFormerConfig)
class TrackFormer(nn.Module):
    """Transformer encoder over a track's hits with masked mean pooling."""

    def __init__(self, config: TrackFormerConfig | None = None) -> None:
        super().__init__()
        cfg = config or TrackFormerConfig()
        cfg.validate()
        self.config = cfg
        n_t = len(TARGET_SETS[cfg.targets])
        self.n_out = n_t * (len(cfg.quantiles) if cfg.loss == "quantile" else 1)
        n_in = N_FEATURES[cfg.inputs] + (2 if cfg.prior == "helix" else 0)
        self.embed = nn.Linear(n_in, cfg.model_dim)
        self.input_dropout = nn.Dropout(cfg.input_dropout)
        layer = nn.TransformerEncoderLayer(
            cfg.model_dim, cfg.n_heads, dim_feedforward=2 * cfg.model_dim, dropout=cfg.dropout,
            batch_first=True, norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.head = nn.Sequential(
            nn.Linear(cfg.model_dim, cfg.model_dim), nn.GELU(), nn.Linear(cfg.model_dim, self.n_out)
        )
        mean = cfg.target_mean or [0.0] * n_t
        std = cfg.target_std or [1.0] * n_t
        self.register_buffer("target_mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("target_std", torch.tensor(std, dtype=torch.float32))

    def prior(self, hits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The helix prior of q/pT, (B,) (zero without a prior)."""
        if self.config.prior == "none":
            return torch.zeros(len(hits), dtype=hits.dtype)
        return self.config.prior_coef * _middle_kappa(hits, mask)

    def _with_deviations(self, hits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Helix-prior models also see each hit's curvature estimates relative to the
        prior's, in units of the residual's spread: (κ_i − κ_mid) · |c| / σ_residual for
        the three-point (column 4) and beam-line (column 3) curvatures, zero where a
        hit has no estimate, clipped to ±20. The correction the network has to learn
        is then an O(1) combination of O(1) inputs; from the raw κ_i (≈ 0.1–1 /m,
        differing by ~1 %) it would need weights of ~10² that a few thousand AdamW
        steps do not reach."""
        k_mid = _middle_kappa(hits, mask).unsqueeze(1)
        scale = abs(self.config.prior_coef) / self.target_std[0]
        cols = []
        for c in (4, 3):
            k = hits[..., c]
            dev = torch.clamp((k - k_mid) * scale, -20.0, 20.0)
            cols.append(torch.where(mask & (k != 0), dev, torch.zeros_like(dev)))
        return torch.cat([hits, torch.stack(cols, -1)], -1)

    def physical(self, out: torch.Tensor, hits: torch.Tensor, mask: torch.Tensor
                 ) -> torch.Tensor:
        """Standardised outputs → physical units (adds the prior to q/pT)."""
        quantiles = out.dim() == 3  # (B, n_targets, n_quantiles)
        std, mean = ((self.target_std[:, None], self.target_mean[:, None]) if quantiles else
                     (self.target_std, self.target_mean))
        phys = out * std + mean
        if self.config.prior == "none":
            return phys
        first = torch.zeros(phys.shape[1:], dtype=phys.dtype)
        first[0] = 1.0  # the prior shifts q/pT (every quantile of it)
        shift = self.prior(hits, mask).view(-1, *([1] * (phys.dim() - 1)))
        return phys + shift * first

    def forward(self, hits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Standardised outputs, shape (B, n_targets) or (B, n_targets, n_quantiles)."""
        if self.config.prior == "helix":
            hits = self._with_deviations(hits, mask)
        h = self.input_dropout(self.embed(hits))
        h = self.encoder(h, src_key_padding_mask=~mask)
        m = mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp_min(1.0)
        out = self.head(pooled)
        if self.config.loss == "quantile":
            out = out.view(len(out), -1, len(self.config.quantiles))
        return out

    def loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        hits, mask, target = batch
        # cut the batch to its longest track: padding is not computed
        used = torch.nonzero(mask.any(0))
        width = int(used.max()) + 1 if len(used) else 1
        hits, mask = hits[:, :width], mask[:, :width]
        pred = self(hits, mask)
        if self.config.prior != "none":
            target = target.clone()
            target[:, 0] -= self.prior(hits, mask)
        t = (target - self.target_mean) / self.target_std
        if self.config.loss == "mse":
            return torch.mean((pred - t) ** 2)
        q = torch.tensor(self.config.quantiles, dtype=pred.dtype)
        e = t.unsqueeze(-1) - pred
        return torch.mean(torch.maximum(q * e, (q - 1) * e))

    @torch.inference_mode()
    def predict_arrays(self, hits: np.ndarray, mask: np.ndarray, batch_size: int = 256
                       ) -> np.ndarray:
        """Predictions in physical units, (P, n_targets) (median for quantile models)."""
        nf = N_FEATURES[self.config.inputs]
        if hits.ndim != 3 or hits.shape[1] > self.config.max_hits or hits.shape[2] != nf:
            msg = (f"hits must have shape (P, <= max_hits={self.config.max_hits}, {nf}) for "
                   f"inputs={self.config.inputs!r}, got {hits.shape}")
            raise ValueError(msg)
        if not np.isfinite(hits).all():
            msg = "hits contain NaN or inf"
            raise ValueError(msg)
        self.eval()
        n_out = len(TARGET_SETS[self.config.targets])
        if len(hits) == 0:
            return np.zeros((0, n_out))
        # Length-bucketed batches: tracks sorted by the extent of their hits,
        # each batch cut to its longest track, so padding is not computed (padding
        # does not change a prediction; the results come back in input order).
        mask = np.asarray(mask, bool)
        # extent = one past the last valid hit (padding may sit anywhere)
        extent = np.where(mask.any(1), _last_index(mask) + 1, 0)
        order = np.argsort(extent, kind="stable")
        out = np.empty((len(hits), n_out))
        for i in range(0, len(hits), batch_size):
            idx = order[i : i + batch_size]
            width = max(int(extent[idx].max()), 1)
            h = torch.from_numpy(np.ascontiguousarray(hits[idx, :width], np.float32))
            m = torch.from_numpy(np.ascontiguousarray(mask[idx, :width]))
            p = self.physical(self(h, m), h, m)
            if self.config.loss == "quantile":
                mid = int(np.argmin(np.abs(np.array(self.config.quantiles) - 0.5)))
                p = p[..., mid]
            out[idx] = p.double().numpy()
        return out

    def predict(self, event: Event | Sequence[Event], **selection: Any) -> dict[str, np.ndarray]:
        """Per selected particle: ``particle_id``, the targets, and ``pt``.

        ``selection`` overrides :func:`build_sequences`' cuts.
        """
        seq = build_sequences(event, self.config, **selection)
        values = self.predict_arrays(seq.hits, seq.mask)
        out = {"particle_id": seq.particle_id, "pt": targets_to_pt(values, self.config.targets)}
        for i, name in enumerate(TARGET_SETS[self.config.targets]):
            out[name] = values[:, i]
        if self.config.targets == "perigee":
            per = perigee_from_targets(values, first_hit_phi(seq.xyz))
            out["phi0"], out["theta"], out["q_over_p"] = per[:, 2], per[:, 3], per[:, 4]
        return out


def three_point_estimate(xyz: np.ndarray, mask: np.ndarray, b_field_z: float
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Classical baseline: (pT, pz) from the circle through the first, middle and last hit."""
    n = mask.sum(1)
    idx = np.arange(len(xyz))
    a, b, c = xyz[idx, 0], xyz[idx, n // 2], xyz[idx, n - 1]
    ab, bc, ca = (np.hypot(*(p - q)[:, :2].T) for p, q in ((a, b), (b, c), (c, a)))
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    radius = ab * bc * ca / np.maximum(2 * np.abs(cross), 1e-12)
    pt = radius * abs(b_field_z)
    # arc length a -> c on the circle, then the z slope
    chord = ca
    arc = 2 * radius * np.arcsin(np.clip(chord / (2 * radius), -1, 1))
    pz = pt * (c[:, 2] - a[:, 2]) / np.maximum(arc, 1e-9)
    return pt, pz


class _PhysicalOutput(nn.Module):
    """Wraps a TrackFormer so that its outputs are in physical units (for export)."""

    def __init__(self, model: TrackFormer) -> None:
        super().__init__()
        self.model = model

    def forward(self, hits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model.physical(self.model(hits, mask), hits, mask)


def export_onnx(model: TrackFormer, path: str | os.PathLike[str]) -> Path:
    """Export to ONNX (inputs ``hits`` (B, L, n_features) float32 and ``mask`` (B, L) bool, dynamic B and
    L <= max_hits; output in physical units). Written atomically."""
    path = Path(path)
    wrapper = _PhysicalOutput(model).eval()
    length = model.config.max_hits
    hits = torch.zeros(2, length, N_FEATURES[model.config.inputs])
    mask = torch.zeros(2, length, dtype=torch.bool)
    mask[:, :3] = True
    with atomic_path(path) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about the padding mask
            torch.onnx.export(
                wrapper, (hits, mask), tmp, input_names=["hits", "mask"], output_names=["targets"],
                dynamic_axes={"hits": {0: "batch", 1: "hits"}, "mask": {0: "batch", 1: "hits"},
                              "targets": {0: "batch"}},
                dynamo=False,
            )
    return path
