"""The DeepCore CNN: track crossing points and track parameters in the core of a jet.

Abbreviations: N windows, L = ``N_LAYERS`` layers (BPIX1-4), K = ``N_OVERLAPS`` overlap
slots, P = ``N_PARAMS`` track parameters, W = ``WINDOW`` pixels.

Inputs (float32): ``charge`` (N, L, W, W), the normalised pixel charge of BPIX1-4 in a
W x W window around the seed direction (see :mod:`helixkit.deepcore.windows`), and ``jet``
(N, 2) = (jet pT [GeV], jet η), raw: the model divides them by fixed constants of its
config. Outputs, per BPIX2 pixel and overlap slot k (the (k+1)-th particle crossing that
pixel): a track-crossing-point (TCP) logit (N, K, W, W) and the slot's track parameters
(N, K, P, W, W) = (dx, dy [pixels, crossing point minus the pixel centre along rows and
columns], deta, dphi [particle direction minus the window axis], pT [GeV]).

The network follows DeepCore (CMS; vberta/DeepCore ``training/DeepCore_GPU.py``): the jet
(pT, η) broadcast to two W x W planes and concatenated with the L charge maps, a trunk of
"same"-padded convolutions with ReLU, and two heads of convolutions on the trunk's output,
one for the K TCP maps, one for the K x P parameter maps. vberta's sizes are
:data:`VBERTA_LAYERS` (trunk 50@7x7, 20@5x5, 20@5x5, 18@5x5, 18@3x3; parameter head
3 x 18@3x3; TCP head 12, 9, 7@3x3; 69 M multiply-adds per window). That runs at ~10^3
windows/s on 2 CPU cores, so the defaults are a narrow version of the same design
(trunk 16@5x5, 16@3x3; the TCP head one 3x3 output convolution, the parameter head one
1x1; 4.8 M multiply-adds), which runs at ~10^4 windows/s on 2 cores (docs/deepcore.md,
"The DeepCore CNN"). Every size is a config field.

Losses (the seed's): weighted binary cross-entropy with logits on the TCP maps
(``pos_weight`` 10), weighted by a region-of-interest map (``roi``: the pixels within
``roi_radius`` of a true crossing; ``"soft"`` adds ``roi_floor`` = 0.01 everywhere, as
DeepCore's ROIsoft), plus the MSE of the standardised parameters (``(value - offset) /
scale``, fixed per parameter), clipped at ±``param_clip`` σ and counted only where a
particle crosses (``tcp == 1``); ``param_weight`` weighs the two.

:func:`crossings` applies DeepCore 2.0's threshold rules to predicted maps.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .._files import atomic_path
from .._memory import raise_mmap_threshold
from .._validation import as_numpy, require
from ..data.event import Table
from ..nn.registry import register_model
from .windows import N_LAYERS, N_OVERLAPS, N_PARAMS, PARAM_NAMES, WINDOW

#: Layer of the crossing points (BPIX2) in the charge maps.
SEED_LAYER = 1
#: DeepCore 2.0's thresholds per overlap slot, and the raised ones for a window with an
#: empty BPIX1, BPIX3 or BPIX4 (CMS-DP-2024/003).
THRESHOLDS = (0.7, 0.85, 1.0)
RAISED_THRESHOLDS = (0.8, 0.9, 1.0)
#: vberta/DeepCore's layer sizes (barrel), as :class:`DeepCoreConfig` fields.
VBERTA_LAYERS: dict[str, list[int]] = {
    "trunk_channels": [50, 20, 20, 18, 18],
    "trunk_kernels": [7, 5, 5, 5, 3],
    "param_channels": [18, 18, 18],
    "prob_channels": [12, 9, 7],
    "prob_kernel": 3,
    "param_kernel": 3,
}
ROI_MODES = ("none", "hard", "soft")


@dataclass
class DeepCoreConfig:
    """Network, input normalisation and loss settings (GeV, pixels; see the module docstring).

    ``trunk_channels`` / ``trunk_kernels`` / ``trunk_dilations``: output channels, (odd)
    kernel size and dilation (empty: 1) of each trunk convolution; ``param_channels`` / ``prob_channels``: the hidden convolutions of
    the parameter and TCP heads (empty: the output convolution only), ``param_kernel`` /
    ``prob_kernel`` the kernel of every convolution of that head. ``jet_pt_scale`` [GeV] / ``jet_eta_scale``
    divide the jet inputs. ``param_offset`` / ``param_scale`` (one per ``PARAM_NAMES``)
    standardise the parameters.
    """

    trunk_channels: list[int] = field(default_factory=lambda: [16, 16])
    trunk_kernels: list[int] = field(default_factory=lambda: [5, 3])
    trunk_dilations: list[int] = field(default_factory=list)
    param_channels: list[int] = field(default_factory=list)
    prob_channels: list[int] = field(default_factory=list)
    prob_kernel: int = 3
    param_kernel: int = 1
    jet_pt_scale: float = 1000.0
    jet_eta_scale: float = 1.0
    pos_weight: float = 10.0
    roi: str = "soft"
    roi_radius: int = 2
    roi_floor: float = 0.01
    param_offset: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0, 50.0])
    param_scale: list[float] = field(default_factory=lambda: [0.3, 0.3, 0.02, 0.01, 50.0])
    param_clip: float = 5.0
    param_weight: float = 1.0

    def validate(self) -> None:
        for name in ("trunk_channels", "param_channels", "prob_channels"):
            v = getattr(self, name)
            require(isinstance(v, (list, tuple)) and all(_is_int(c) and c >= 1 for c in v),
                    self, name, "must be a list of integers >= 1")
        require(len(self.trunk_channels) >= 1, self, "trunk_channels",
                "must have at least one convolution")
        require(isinstance(self.trunk_kernels, (list, tuple))
                and len(self.trunk_kernels) == len(self.trunk_channels)
                and all(_is_int(k) and k >= 1 and k % 2 == 1 for k in self.trunk_kernels),
                self, "trunk_kernels", "must hold one odd integer >= 1 per trunk_channels entry")
        require(isinstance(self.trunk_dilations, (list, tuple))
                and len(self.trunk_dilations) in (0, len(self.trunk_channels))
                and all(_is_int(d) and d >= 1 for d in self.trunk_dilations),
                self, "trunk_dilations",
                "must be empty (all 1) or hold one integer >= 1 per trunk_channels entry")
        for name in ("prob_kernel", "param_kernel"):
            k = getattr(self, name)
            require(_is_int(k) and k >= 1 and k % 2 == 1, self, name,
                    "must be an odd integer >= 1")
        for name in ("jet_pt_scale", "jet_eta_scale", "pos_weight", "param_clip"):
            v = getattr(self, name)
            require(_is_real(v) and math.isfinite(v) and v > 0, self, name,
                    "must be finite and > 0")
        require(self.roi in ROI_MODES, self, "roi", f"must be one of {ROI_MODES}")
        require(_is_int(self.roi_radius) and 0 <= self.roi_radius < WINDOW, self, "roi_radius",
                f"must be an integer in [0, {WINDOW}) pixels")
        require(_is_real(self.roi_floor) and 0 <= self.roi_floor <= 1, self, "roi_floor",
                "must be in [0, 1]")
        require(_is_real(self.param_weight) and math.isfinite(self.param_weight)
                and self.param_weight >= 0, self, "param_weight", "must be finite and >= 0")
        require(isinstance(self.param_offset, (list, tuple)) and len(self.param_offset) == N_PARAMS
                and all(_is_real(v) and math.isfinite(v) for v in self.param_offset), self,
                "param_offset", f"must hold {N_PARAMS} finite values {PARAM_NAMES}")
        require(isinstance(self.param_scale, (list, tuple)) and len(self.param_scale) == N_PARAMS
                and all(_is_real(v) and math.isfinite(v) and v > 0 for v in self.param_scale),
                self, "param_scale", f"must hold {N_PARAMS} finite values > 0 {PARAM_NAMES}")


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_real(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _convs(c_in: int, hidden: Sequence[int], kernels: Sequence[int], c_out: int | None,
           out_kernel: int, dilations: Sequence[int] = ()) -> tuple[nn.Sequential, int]:
    """"Same"-padded convolutions with ReLU after each hidden one; the last (``c_out``
    channels) is linear. Returns the stack and its output channels."""
    layers: list[nn.Module] = []
    c = c_in
    dil = list(dilations) or [1] * len(hidden)
    for width, k, d in zip(hidden, kernels, dil, strict=True):
        layers += [nn.Conv2d(c, int(width), int(k), padding=int(d) * (int(k) // 2),
                             dilation=int(d)),
                   nn.ReLU(inplace=True)]
        c = int(width)
    if c_out is not None:
        layers.append(nn.Conv2d(c, c_out, out_kernel, padding=out_kernel // 2))
        c = c_out
    return nn.Sequential(*layers), c


# ----------------------------------------------------------------------------- model


@register_model("deepcore", DeepCoreConfig)
class DeepCoreModel(nn.Module):
    """DeepCore's CNN (see the module docstring): ``forward(charge, jet)`` → (TCP logits
    (N, K, W, W), standardised parameters (N, K, P, W, W))."""

    def __init__(self, config: DeepCoreConfig | None = None) -> None:
        super().__init__()
        cfg = config or DeepCoreConfig()
        cfg.validate()
        self.config = cfg
        self.trunk, width = _convs(N_LAYERS + 2, cfg.trunk_channels, cfg.trunk_kernels, None, 1,
                                   cfg.trunk_dilations)
        kp, kq = cfg.param_kernel, cfg.prob_kernel
        self.param_head, _ = _convs(width, cfg.param_channels, [kp] * len(cfg.param_channels),
                                    N_OVERLAPS * N_PARAMS, kp)
        self.prob_head, _ = _convs(width, cfg.prob_channels, [kq] * len(cfg.prob_channels),
                                   N_OVERLAPS, kq)
        shape = (1, 1, N_PARAMS, 1, 1)
        self.register_buffer("param_offset",
                             torch.tensor(cfg.param_offset, dtype=torch.float32).view(shape))
        self.register_buffer("param_scale",
                             torch.tensor(cfg.param_scale, dtype=torch.float32).view(shape))
        self.register_buffer("jet_scale", torch.tensor(
            [cfg.jet_pt_scale, cfg.jet_eta_scale], dtype=torch.float32))

    def _maps(self, charge: torch.Tensor, jet: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """TCP logits (N, K, W, W) and standardised parameters (N, K * P, W, W), both in
        the channels-last layout the convolutions ran in."""
        n = charge.shape[0]
        planes = (jet / self.jet_scale).view(n, 2, 1, 1).expand(n, 2, WINDOW, WINDOW)
        # channels-last runs the convolutions ~1.5-2x faster on CPU (oneDNN's layout)
        x = torch.cat([charge, planes], 1).contiguous(memory_format=torch.channels_last)
        h = self.trunk(x)
        return self.prob_head(h), self.param_head(h)

    def forward(self, charge: torch.Tensor, jet: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """TCP logits (N, K, W, W) and standardised parameters (N, K, P, W, W)."""
        logits, params = self._maps(charge, jet)
        return logits.contiguous(), params.contiguous().view(
            charge.shape[0], N_OVERLAPS, N_PARAMS, WINDOW, WINDOW)

    def physical(self, params: torch.Tensor) -> torch.Tensor:
        """Standardised parameters → physical units (pixels, rad, GeV)."""
        return params * self.param_scale + self.param_offset

    def standardise(self, params: torch.Tensor) -> torch.Tensor:
        """Physical parameters → the network's standardised ones."""
        return (params - self.param_offset) / self.param_scale

    def roi_map(self, tcp: torch.Tensor) -> torch.Tensor:
        """The region of interest (N, 1, W, W): 1 within ``roi_radius`` pixels (a square)
        of a true crossing in any slot, else 0."""
        r = self.config.roi_radius
        any_slot = tcp.amax(1, keepdim=True)
        return F.max_pool2d(any_slot, 2 * r + 1, stride=1, padding=r) if r else any_slot

    def loss_terms(self, batch: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        """``tcp`` (the weighted BCE), ``params`` (the clipped MSE) and ``total``
        (``tcp + param_weight * params``) of ``batch`` = (charge, jet, tcp, params)."""
        charge, jet, tcp, params = batch[:4]
        cfg = self.config
        logits, pred = self(charge, jet)
        pos = torch.tensor(cfg.pos_weight, dtype=logits.dtype)
        bce = F.binary_cross_entropy_with_logits(logits, tcp, pos_weight=pos, reduction="none")
        if cfg.roi == "none":
            l_tcp = bce.mean()
        else:
            roi = self.roi_map(tcp).expand_as(bce)
            weight = roi + cfg.roi_floor if cfg.roi == "soft" else roi
            l_tcp = (bce * weight).sum() / roi.sum().clamp_min(1.0)
        mask = (tcp > 0.5).unsqueeze(2).to(pred.dtype)          # (N, K, 1, W, W)
        diff = torch.clamp(pred - self.standardise(params), -cfg.param_clip, cfg.param_clip)
        l_par = (diff.square() * mask).sum() / (mask.sum() * N_PARAMS).clamp_min(1.0)
        return {"tcp": l_tcp, "params": l_par, "total": l_tcp + cfg.param_weight * l_par}

    def loss(self, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        """The training loss of ``batch`` = (charge, jet, tcp, params) tensors."""
        return self.loss_terms(batch)["total"]

    @torch.inference_mode()
    def predict(self, charge: Any, jet: Any, *, batch_size: int = 128
                ) -> tuple[np.ndarray, np.ndarray]:
        """TCP probabilities (N, K, W, W) and parameters in physical units (N, K, P, W, W),
        float32, from ``charge`` (N, L, W, W) and ``jet`` (N, 2) (numpy arrays or CPU
        tensors of a floating dtype). Bad shapes, dtypes or NaN / inf are a ``ValueError``
        naming the input."""
        c, j = check_inputs(charge, jet)
        bs = _batch_size(batch_size)
        n = len(c)
        prob = np.empty((n, N_OVERLAPS, WINDOW, WINDOW), np.float32)
        par = np.empty((n, N_OVERLAPS, N_PARAMS, WINDOW, WINDOW), np.float32)
        for s, pb, qb in self._batches(c, j, bs):
            prob[s], par[s] = pb, qb
        return prob, par

    def _raw_batches(self, c: np.ndarray, j: np.ndarray, batch_size: int
                     ) -> Iterator[tuple[slice, np.ndarray, torch.Tensor]]:
        """(rows, probabilities, standardised parameters (m, K * P, W, W) in the channels-last
        layout) per batch of checked inputs; the probability array is reused from batch to
        batch (copy what you keep)."""
        self.eval()
        raise_mmap_threshold()   # the batches' activations reused, not mapped anew
        prob = torch.empty((batch_size, N_OVERLAPS, WINDOW, WINDOW))
        with torch.inference_mode():
            for i in range(0, len(c), batch_size):
                s = slice(i, min(i + batch_size, len(c)))
                logits, p = self._maps(torch.from_numpy(c[s]), torch.from_numpy(j[s]))
                yield s, torch.sigmoid(logits, out=prob[: s.stop - s.start]).numpy(), p

    def _batches(self, c: np.ndarray, j: np.ndarray, batch_size: int
                 ) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
        """(rows, probabilities, physical parameters) per batch of checked inputs; the
        arrays are reused from batch to batch (copy what you keep)."""
        par = torch.empty((batch_size, N_OVERLAPS, N_PARAMS, WINDOW, WINDOW))
        for s, pb, p in self._raw_batches(c, j, batch_size):
            m = s.stop - s.start
            # into the reused float32 buffer, no temporaries; a multiply and an add, each
            # rounded (as physical() and find_crossings compute them)
            out = par[:m]
            torch.mul(p.view(m, N_OVERLAPS, N_PARAMS, WINDOW, WINDOW), self.param_scale,
                      out=out)
            out += self.param_offset
            yield s, pb, out.numpy()

    def find_crossings(self, charge: Any, jet: Any, *,
                       thresholds: Sequence[float] = THRESHOLDS,
                       raised: Sequence[float] = RAISED_THRESHOLDS,
                       batch_size: int = 128) -> Table:
        """:meth:`predict` followed by :func:`crossings`, batch by batch: only the fired
        pixels' parameters are kept, so the full (N, K, P, W, W) maps are never held."""
        c, j = check_inputs(charge, jet)
        bs = _batch_size(batch_size)
        thr, high = _checked_thresholds(thresholds, raised)
        scale = self.param_scale.view(N_PARAMS).numpy()
        offset = self.param_offset.view(N_PARAMS).numpy()
        parts: list[tuple[np.ndarray, ...]] = []
        for s, pb, p in self._raw_batches(c, j, bs):
            w, k, r, q = _fired(pb, c[s], thr, high)
            # only the fired pixels' parameters: gathered from the channels-last maps
            # (N, W, W, K * P) and converted as predict converts them (multiply, add)
            cl = p.permute(0, 2, 3, 1).numpy()
            std = cl[w[:, None], r[:, None], q[:, None],
                     N_PARAMS * k[:, None] + np.arange(N_PARAMS)]
            parts.append((w + s.start, k, r, q, std * scale + offset, pb[w, k, r, q]))
        if not parts:
            z = np.zeros(0, np.int64)
            return _crossing_table(z, z, z, z, np.zeros((0, N_PARAMS), np.float32),
                                   np.zeros(0, np.float32))
        cols = [np.concatenate(x) for x in zip(*parts, strict=True)]
        return _crossing_table(*cols)


# ----------------------------------------------------------------------------- inputs


def _float_array(a: Any, name: str, tail: tuple[int, ...]) -> np.ndarray:
    arr = as_numpy(a)
    if arr.dtype.kind != "f":
        msg = f"{name} must have a floating dtype (float32), got {arr.dtype}"
        raise ValueError(msg)
    if arr.ndim != 1 + len(tail) or arr.shape[1:] != tail:
        want = ", ".join(["N", *map(str, tail)])
        msg = f"{name} must have shape ({want}), got {arr.shape}"
        raise ValueError(msg)
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if arr.size and not np.isfinite(arr).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        msg = f"{name} must be finite, found {arr[bad]} at {bad}"
        raise ValueError(msg)
    return arr


def _batch_size(batch_size: Any) -> int:
    if int(batch_size) != batch_size or batch_size < 1:
        msg = f"batch_size (={batch_size!r}) must be an integer >= 1"
        raise ValueError(msg)
    return int(batch_size)


def check_inputs(charge: Any, jet: Any) -> tuple[np.ndarray, np.ndarray]:
    """``charge`` (N, L, W, W) and ``jet`` (N, 2) as C-contiguous float32 arrays; a
    ``ValueError`` naming the input for a non-floating dtype, a wrong shape, different N
    or NaN / inf."""
    c = _float_array(charge, "charge", (N_LAYERS, WINDOW, WINDOW))
    j = _float_array(jet, "jet", (2,))
    if len(c) != len(j):
        msg = f"jet has {len(j)} rows, charge has {len(c)} windows"
        raise ValueError(msg)
    return c, j


# ----------------------------------------------------------------------------- crossings


def _thresholds(values: Sequence[float], name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (N_OVERLAPS,) or not np.all((arr >= 0) & (arr <= 1)):
        msg = f"{name} (={tuple(values)!r}) must be {N_OVERLAPS} values in [0, 1], one per slot"
        raise ValueError(msg)
    return arr


def crossings(prob: Any, params: Any, charge: Any, *,
              thresholds: Sequence[float] = THRESHOLDS,
              raised: Sequence[float] = RAISED_THRESHOLDS) -> Table:
    """Predicted track crossings on BPIX2 by DeepCore 2.0's threshold rules.

    Slot k of a pixel fires where ``prob > thresholds[k]`` (0.7 / 0.85 / 1.0: with a sigmoid,
    a threshold of 1.0 never fires). In a window whose BPIX1, BPIX3 or BPIX4 holds no
    charge the thresholds are ``raised`` (0.8 / 0.9 / 1.0); in a window whose BPIX2 holds
    no charge nothing fires. No local-maximum suppression (the seed has none).

    Parameters
    ----------
    prob : (N, K, W, W) array_like
        TCP probabilities (:meth:`DeepCoreModel.predict`).
    params : (N, K, P, W, W) array_like
        Parameters in physical units.
    charge : (N, L, W, W) array_like
        The windows' input charge (which layers are empty).
    thresholds, raised : 3 floats in [0, 1]
        ``raised[k] >= thresholds[k]``.

    Returns
    -------
    Table
        One row per crossing, ordered by (window, slot, pixel row, pixel column):
        ``window`` int64, ``slot`` int8, ``row``, ``col`` (the pixel plus dx / dy: window
        pixel coordinates, centres at 0 ... W - 1), ``deta``, ``dphi``, ``pt`` [GeV] and
        ``prob``.
    """
    p = np.asarray(as_numpy(prob))
    par = np.asarray(as_numpy(params))
    q = np.asarray(as_numpy(charge))
    for name, a, tail in (("prob", p, (N_OVERLAPS, WINDOW, WINDOW)),
                          ("params", par, (N_OVERLAPS, N_PARAMS, WINDOW, WINDOW)),
                          ("charge", q, (N_LAYERS, WINDOW, WINDOW))):
        if a.dtype.kind not in "fiu" or a.ndim != 1 + len(tail) or a.shape[1:] != tail:
            want = ", ".join(["N", *map(str, tail)])
            msg = f"{name} must be a numeric array of shape ({want}), got {a.shape} {a.dtype}"
            raise ValueError(msg)
    if not len(p) == len(par) == len(q):
        msg = f"prob, params and charge must have the same N, got {len(p)}, {len(par)}, {len(q)}"
        raise ValueError(msg)
    if p.size and not np.isfinite(p).all():
        msg = "prob must be finite (it holds NaN or inf)"
        raise ValueError(msg)
    thr, high = _checked_thresholds(thresholds, raised)
    w, k, i, j = _fired(p, q, thr, high)
    return _crossing_table(w, k, i, j, par[w, k, :, i, j], p[w, k, i, j])


def _checked_thresholds(thresholds: Sequence[float], raised: Sequence[float]
                        ) -> tuple[np.ndarray, np.ndarray]:
    thr = _thresholds(thresholds, "thresholds")
    high = _thresholds(raised, "raised")
    if np.any(high < thr):
        msg = f"raised (={tuple(raised)!r}) must be >= thresholds (={tuple(thresholds)!r})"
        raise ValueError(msg)
    return thr, high


def _fired(p: np.ndarray, q: np.ndarray, thr: np.ndarray, high: np.ndarray
           ) -> tuple[np.ndarray, ...]:
    """(window, slot, row, col) of the pixels that fire, in that order, by the threshold
    rules: ``raised`` where BPIX1, 3 or 4 is empty, nothing where BPIX2 is."""
    n = len(q)
    # a layer is empty where its largest charge is not > 0 (one pass, no boolean temporary)
    empty = ~(q.reshape(n, N_LAYERS, -1).max(axis=2, initial=0) > 0) if n else \
        np.zeros((0, N_LAYERS), bool)                                   # (N, L)
    others = [i for i in range(N_LAYERS) if i != SEED_LAYER]
    per_window = np.where(empty[:, others].any(1)[:, None], high, thr)  # (N, K)
    per_window[empty[:, SEED_LAYER]] = np.inf    # an empty BPIX2: nothing fires
    if p.dtype == np.float32:
        # p > t for a float64 t is p > (the largest float32 <= t): compare in float32
        t32 = per_window.astype(np.float32)
        over = t32 > per_window
        t32[over] = np.nextafter(t32[over], np.float32(-np.inf))
        per_window = t32
    flat = np.flatnonzero(p > per_window[:, :, None, None])
    # the flat index in (N, K, W, W) order: the same order as np.nonzero's
    w, rest = np.divmod(flat, N_OVERLAPS * WINDOW * WINDOW)
    k, rest = np.divmod(rest, WINDOW * WINDOW)
    i, j = np.divmod(rest, WINDOW)
    return w, k, i, j


def _crossing_table(w: np.ndarray, k: np.ndarray, i: np.ndarray, j: np.ndarray,
                    vals: np.ndarray, prob: np.ndarray) -> Table:
    v = np.asarray(vals, dtype=np.float64)                              # (M, P)
    return Table({
        "window": w.astype(np.int64), "slot": k.astype(np.int8),
        "row": i + v[:, 0], "col": j + v[:, 1],
        "deta": v[:, 2], "dphi": v[:, 3], "pt": v[:, 4],
        "prob": np.asarray(prob, dtype=np.float64),
    }, name="crossings")


# ----------------------------------------------------------------------------- export


class _Probabilities(nn.Module):
    """Wraps a DeepCoreModel so that it outputs probabilities and physical parameters."""

    def __init__(self, model: DeepCoreModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, charge: torch.Tensor, jet: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        logits, params = self.model(charge, jet)
        return torch.sigmoid(logits), self.model.physical(params)


def export_onnx(model: DeepCoreModel, path: str | os.PathLike[str]) -> Path:
    """Export to ONNX: inputs ``charge`` (B, 4, 30, 30) and ``jet`` (B, 2) float32, outputs
    ``prob`` (B, 3, 30, 30) and ``params`` (B, 3, 5, 30, 30) in physical units, dynamic B.
    Written atomically (needs the ``onnx`` package)."""
    path = Path(path)
    wrapper = _Probabilities(model).eval()
    charge = torch.zeros(2, N_LAYERS, WINDOW, WINDOW)
    jet = torch.tensor([[1000.0, 0.0], [500.0, 1.0]])
    with atomic_path(path) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
            torch.onnx.export(
                wrapper, (charge, jet), tmp, input_names=["charge", "jet"],
                output_names=["prob", "params"],
                dynamic_axes={"charge": {0: "batch"}, "jet": {0: "batch"},
                              "prob": {0: "batch"}, "params": {0: "batch"}},
                dynamo=False,
            )
    return path


__all__ = ["RAISED_THRESHOLDS",
           "ROI_MODES", "SEED_LAYER", "THRESHOLDS", "VBERTA_LAYERS", "DeepCoreConfig",
           "DeepCoreModel", "check_inputs", "crossings", "export_onnx"]
