"""HitTokenizer: a VQ-VAE that turns each hit (x, y, z) into a few integer tokens.

Encoder MLP (with a linear path) → residual vector quantiser (``levels`` codebooks of
``codebook_size`` codes in ``latent_dim`` dimensions; level l codes the residual left by
levels < l) → decoder MLP (with a linear path) → (x, y, z). One level is the plain VQ-VAE of
the seed talk (2,048 codes, one token per hit); several levels are how a small codebook reaches
millimetre resolution (the tokens of one hit are its code at every level).

What keeps the codebooks alive (van den Oord et al. 2017; SoundStream's residual VQ):
codebooks are updated as exponential moving averages of the vectors assigned to them
(``ema_decay``), not by gradient; they are initialised by k-means on the first batch of
latents; a code whose moving usage falls below ``dead_fraction`` of the average is restarted
on a random latent residual of the current batch every ``restart_every`` steps; the encoder is
pulled towards its codes by the commitment loss (``commitment``); gradients pass the
quantiser unchanged (straight-through). With ``layer_input`` the hit's layer index is an input
of the encoder and of the decoder (a learned embedding): a layer-aware tokeniser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validation import require
from ..graph import knn_graph
from ..nn.registry import register_model

#: Largest latent dimension for which encode() searches codes with the k-d tree.
FAST_SEARCH_MAX_DIM = 8
#: Hits per chunk of encode().
ENCODE_CHUNK = 65536


@dataclass
class HitTokenizerConfig:
    """Tokeniser settings (lengths in mm)."""

    latent_dim: int = 4
    codebook_size: int = 2048
    levels: int = 4
    hidden: int = 128
    n_hidden: int = 2
    #: The hit's layer index (0 .. n_layer_ids - 1) as an input of encoder and decoder.
    layer_input: bool = False
    n_layer_ids: int = 64
    layer_embed_dim: int = 8
    ema_decay: float = 0.99
    commitment: float = 0.25
    #: A code is dead when, over the last ``restart_every`` training steps (or more, until
    #: they made two assignments per code), it was chosen fewer than ``dead_fraction`` × the
    #: average number of times (0: never chosen).
    dead_fraction: float = 0.0
    restart_every: int = 50
    #: Positions are divided by this before the encoder (and the decoder's output multiplied).
    length_scale: float = 1000.0

    def validate(self) -> None:
        require(self.latent_dim >= 1, self, "latent_dim", "must be >= 1")
        require(self.codebook_size >= 2, self, "codebook_size", "must be >= 2")
        require(1 <= self.levels <= 16, self, "levels", "must be in [1, 16]")
        require(self.hidden >= 1 and self.n_hidden >= 0, self, "hidden",
                "must be >= 1 (n_hidden >= 0)")
        require(self.n_layer_ids >= 1 and self.layer_embed_dim >= 1, self, "n_layer_ids",
                "must be >= 1 (layer_embed_dim >= 1)")
        require(0.0 < self.ema_decay < 1.0, self, "ema_decay", "must be in (0, 1)")
        require(self.commitment >= 0.0 and math.isfinite(self.commitment), self, "commitment",
                "must be finite and >= 0")
        require(0.0 <= self.dead_fraction < 1.0, self, "dead_fraction", "must be in [0, 1)")
        require(self.restart_every >= 1, self, "restart_every", "must be >= 1")
        require(self.length_scale > 0.0 and math.isfinite(self.length_scale), self,
                "length_scale", "must be finite and > 0")


def _mlp(n_in: int, n_out: int, hidden: int, n_hidden: int) -> nn.Module:
    if n_hidden == 0:
        return nn.Linear(n_in, n_out)
    layers: list[nn.Module] = [nn.Linear(n_in, hidden), nn.SiLU()]
    for _ in range(n_hidden - 1):
        layers += [nn.Linear(hidden, hidden), nn.SiLU()]
    layers.append(nn.Linear(hidden, n_out))
    return nn.Sequential(*layers)


class _Coder(nn.Module):
    """A linear map plus an MLP correction (the linear path carries the coarse geometry)."""

    def __init__(self, n_in: int, n_out: int, hidden: int, n_hidden: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.mlp = _mlp(n_in, n_out, hidden, n_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + self.mlp(x)


def nearest_code(x: torch.Tensor, codebook: torch.Tensor, chunk: int | None = None
                 ) -> torch.Tensor:
    """Index of the nearest code (Euclidean) of every row of ``x``; ties: the lower index.
    ``chunk`` rows at a time (default: a distance block of about 16M entries)."""
    out = torch.empty(len(x), dtype=torch.long, device=x.device)
    if chunk is None:
        chunk = max(256, (1 << 24) // max(len(codebook), 1))
    c2 = (codebook * codebook).sum(1)
    for s in range(0, len(x), chunk):
        xs = x[s:s + chunk]
        d = c2[None, :] - 2.0 * xs @ codebook.T      # |x|^2 is the same for every code
        out[s:s + chunk] = d.argmin(1)
    return out


def kmeans(x: torch.Tensor, k: int, *, iters: int = 8, generator: torch.Generator | None = None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means from k distinct random rows of ``x`` (k-means++ would cost k passes);
    empty clusters take a random row. Returns (centroids (k, D), counts (k,))."""
    n = len(x)
    if n >= k:
        cent = x[torch.randperm(n, generator=generator)[:k]].clone()
    else:       # fewer points than codes: repeat them (the restarts spread them later)
        cent = x[torch.randint(0, n, (k,), generator=generator)].clone()
    counts = torch.zeros(k)
    for _ in range(iters):
        idx = nearest_code(x, cent)
        counts = torch.bincount(idx, minlength=k).to(x.dtype)
        sums = torch.zeros_like(cent).index_add_(0, idx, x)
        empty = counts == 0
        cent = torch.where(empty[:, None], cent, sums / counts.clamp(min=1)[:, None])
        if empty.any():
            cent[empty] = x[torch.randint(0, n, (int(empty.sum()),), generator=generator)]
    return cent, counts


class ResidualQuantizer(nn.Module):
    """``levels`` EMA codebooks; level l quantises the residual of levels < l."""

    def __init__(self, levels: int, size: int, dim: int, *, decay: float,
                 dead_fraction: float, restart_every: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.levels, self.size, self.dim = levels, size, dim
        self.decay, self.dead_fraction, self.restart_every, self.eps = (
            decay, dead_fraction, restart_every, eps)
        self.register_buffer("codebook", torch.zeros(levels, size, dim))
        self.register_buffer("ema_count", torch.zeros(levels, size))
        self.register_buffer("ema_sum", torch.zeros(levels, size, dim))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        #: codes restarted so far, per level (a diagnostic)
        self.register_buffer("restarts", torch.zeros(levels, dtype=torch.long))
        #: times each code was chosen since the last restart check
        self.register_buffer("window_count", torch.zeros(levels, size))

    @torch.no_grad()
    def initialise(self, z: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """k-means on the latents, level by level (each on the residual of the levels before)."""
        residual = z.detach().clone()
        for level in range(self.levels):
            cent, counts = kmeans(residual, self.size, generator=generator)
            self.codebook[level] = cent
            self.ema_count[level] = counts
            self.ema_sum[level] = cent * counts[:, None]
            residual = residual - cent[nearest_code(residual, cent)]
        self.initialised.fill_(True)

    @torch.no_grad()
    def _ema(self, level: int, residual: torch.Tensor, idx: torch.Tensor) -> None:
        d = self.decay
        counts = torch.bincount(idx, minlength=self.size).to(residual.dtype)
        sums = torch.zeros(self.size, self.dim, dtype=residual.dtype).index_add_(0, idx, residual)
        self.window_count[level] += counts
        self.ema_count[level].mul_(d).add_(counts, alpha=1 - d)
        self.ema_sum[level].mul_(d).add_(sums, alpha=1 - d)
        n = self.ema_count[level].sum()
        smoothed = (self.ema_count[level] + self.eps) / (n + self.size * self.eps) * n
        self.codebook[level] = self.ema_sum[level] / smoothed[:, None]

    @torch.no_grad()
    def _restart_dead(self, level: int, residual: torch.Tensor) -> None:
        used = self.window_count[level]
        if float(used.sum()) < 2.0 * self.size:
            return  # the window has not yet seen two assignments per code: wait
        dead = used <= self.dead_fraction * used.mean()
        self.window_count[level].zero_()
        n_dead = int(dead.sum())
        count = self.ema_count[level]
        if n_dead == 0 or len(residual) == 0:
            return
        pick = torch.randint(0, len(residual), (n_dead,))
        noise = 1e-3 * residual.std(0, keepdim=True) * torch.randn(n_dead, self.dim)
        self.codebook[level, dead] = residual[pick] + noise
        self.ema_count[level, dead] = count.mean()
        self.ema_sum[level, dead] = self.codebook[level, dead] * count.mean()
        self.restarts[level] += n_dead

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(quantised z with straight-through gradients, codes (n, levels), commitment term)."""
        if self.training and not bool(self.initialised):
            self.initialise(z)
        residual = z.detach()
        total = torch.zeros_like(z)
        codes = []
        restart = self.training and (int(self.steps) + 1) % self.restart_every == 0
        for level in range(self.levels):
            idx = nearest_code(residual, self.codebook[level])
            if self.training:
                self._ema(level, residual, idx)
                if restart:
                    self._restart_dead(level, residual)
            q = self.codebook[level][idx]
            total = total + q
            residual = residual - q
            codes.append(idx)
        if self.training:
            self.steps += 1
        commit = ((z - total.detach()) ** 2).sum(1).mean()
        zq = z + (total - z).detach()
        return zq, torch.stack(codes, 1), commit

    @torch.no_grad()
    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Sum of the codes of every level: (n, levels) → (n, dim)."""
        out = torch.zeros(len(codes), self.dim, dtype=self.codebook.dtype)
        for level in range(self.levels):
            out += self.codebook[level][codes[:, level]]
        return out


@register_model("hit_tokenizer", HitTokenizerConfig)
class HitTokenizer(nn.Module):
    """Hits (x, y, z) [mm] (+ layer index) → tokens (n, levels) → positions back."""

    def __init__(self, config: HitTokenizerConfig | None = None) -> None:
        super().__init__()
        cfg = config or HitTokenizerConfig()
        cfg.validate()
        self.config = cfg
        extra = cfg.layer_embed_dim if cfg.layer_input else 0
        self.layer_embed = nn.Embedding(cfg.n_layer_ids, cfg.layer_embed_dim) \
            if cfg.layer_input else None
        self.encoder = _Coder(3 + extra, cfg.latent_dim, cfg.hidden, cfg.n_hidden)
        self.decoder = _Coder(cfg.latent_dim + extra, 3, cfg.hidden, cfg.n_hidden)
        self.quantizer = ResidualQuantizer(cfg.levels, cfg.codebook_size, cfg.latent_dim,
                                           decay=cfg.ema_decay, dead_fraction=cfg.dead_fraction,
                                           restart_every=cfg.restart_every)

    # ------------------------------------------------------------------ tensors
    def _layer(self, layer: torch.Tensor | None) -> torch.Tensor | None:
        if self.layer_embed is None:
            return None
        if layer is None:
            msg = "layer: this tokeniser takes the layer index as an input (layer_input=True)"
            raise ValueError(msg)
        return self.layer_embed(layer)

    def encode_latent(self, xyz: torch.Tensor, layer: torch.Tensor | None = None) -> torch.Tensor:
        x = xyz / self.config.length_scale
        e = self._layer(layer)
        return self.encoder(x if e is None else torch.cat([x, e], 1))

    def decode_latent(self, zq: torch.Tensor, layer: torch.Tensor | None = None) -> torch.Tensor:
        e = self._layer(layer)
        out = self.decoder(zq if e is None else torch.cat([zq, e], 1))
        return out * self.config.length_scale

    def forward(self, xyz: torch.Tensor, layer: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstructed xyz [mm], codes (n, levels), commitment term)."""
        z = self.encode_latent(xyz, layer)
        zq, codes, commit = self.quantizer(z)
        return self.decode_latent(zq, layer), codes, commit

    def loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Mean squared reconstruction error in units of ``length_scale`` + commitment."""
        xyz, layer = batch[0], batch[1]
        rec, _, commit = self(xyz, layer if self.layer_embed is not None else None)
        s = self.config.length_scale
        return (((rec - xyz) / s) ** 2).sum(1).mean() + self.config.commitment * commit

    # ------------------------------------------------------------------ numpy API
    def _inputs(self, xyz: Any, layer: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        a = np.asarray(xyz, dtype=np.float32)
        if a.ndim != 2 or a.shape[1] != 3:
            msg = f"xyz must have shape (n, 3), got {a.shape}"
            raise ValueError(msg)
        if len(a) == 0:
            msg = "xyz: no hits (an empty event)"
            raise ValueError(msg)
        bad = ~np.isfinite(a).all(1)
        if bad.any():
            msg = f"xyz: hit {int(np.flatnonzero(bad)[0])} is not finite ({a[bad][0].tolist()})"
            raise ValueError(msg)
        return torch.from_numpy(a), self._layer_input(layer, len(a))

    def _layer_input(self, layer: Any, n: int) -> torch.Tensor | None:
        """The checked layer indices of n hits (None for a tokeniser without the layer)."""
        if self.layer_embed is None:
            return None
        if layer is None:
            msg = "layer: this tokeniser takes the layer index as an input (layer_input=True)"
            raise ValueError(msg)
        li = np.asarray(layer, dtype=np.int64).reshape(-1)
        if len(li) != n:
            msg = f"layer has {len(li)} entries for {n} hits"
            raise ValueError(msg)
        out = (li < 0) | (li >= self.config.n_layer_ids)
        if out.any():
            msg = (f"layer: index {int(li[out][0])} outside [0, {self.config.n_layer_ids}) "
                   "(unknown layer)")
            raise ValueError(msg)
        return torch.from_numpy(li)

    @torch.no_grad()
    def encode(self, xyz: Any, layer: Any = None, *, n_threads: int = 0) -> np.ndarray:
        """Tokens (n, levels) int64 of hits (n, 3) [mm] (``layer``: (n,) layer indices).

        The nearest code of each level is found with helixkit's exact kNN (a k-d tree over the
        codebook, ``n_threads`` cores; 0 = all) when the latent space is small enough for a tree
        (``latent_dim`` <= 8), else by a batched distance matrix; ties go to the lower code."""
        was = self.training
        self.eval()
        try:
            x, lay = self._inputs(xyz, layer)
            codes = np.empty((len(x), self.config.levels), dtype=np.int64)
            # in chunks that stay in cache (the MLP's activations, the residuals)
            for s in range(0, len(x), ENCODE_CHUNK):
                z = self.encode_latent(x[s:s + ENCODE_CHUNK],
                                       None if lay is None else lay[s:s + ENCODE_CHUNK])
                if self.config.latent_dim <= FAST_SEARCH_MAX_DIM:
                    codes[s:s + ENCODE_CHUNK] = self._nearest_knn(z.numpy(), n_threads)
                else:
                    codes[s:s + ENCODE_CHUNK] = self.quantizer(z)[1].numpy()
        finally:
            self.train(was)
        return codes

    def _nearest_knn(self, z: np.ndarray, n_threads: int) -> np.ndarray:
        residual = np.ascontiguousarray(z, dtype=np.float32)
        book = self.quantizer.codebook.numpy().astype(np.float32)
        codes = np.empty((len(z), self.config.levels), dtype=np.int64)
        for level in range(self.config.levels):
            idx = knn_graph(book[level], 1, query=residual, n_threads=n_threads)[0]
            codes[:, level] = idx
            residual = residual - book[level][idx]
        return codes

    @torch.no_grad()
    def decode(self, tokens: Any, layer: Any = None) -> np.ndarray:
        """Positions (n, 3) [mm] of tokens (n, levels); ``layer`` as for :meth:`encode`."""
        t = np.asarray(tokens, dtype=np.int64)
        if t.ndim == 1 and self.config.levels == 1:
            t = t[:, None]
        if t.ndim != 2 or t.shape[1] != self.config.levels:
            msg = f"tokens must have shape (n, {self.config.levels}), got {t.shape}"
            raise ValueError(msg)
        if len(t) and (t.min() < 0 or t.max() >= self.config.codebook_size):
            msg = f"tokens must be in [0, {self.config.codebook_size}), got {t.min()}..{t.max()}"
            raise ValueError(msg)
        z = self.quantizer.lookup(torch.from_numpy(t))
        return self.decode_latent(z, self._layer_input(layer, len(t))).numpy().astype(np.float64)

    @torch.no_grad()
    def reconstruct(self, xyz: Any, layer: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """(tokens (n, levels), decoded positions (n, 3) [mm])."""
        tokens = self.encode(xyz, layer)
        return tokens, self.decode(tokens, layer)


__all__ = ["FAST_SEARCH_MAX_DIM", "HitTokenizer", "HitTokenizerConfig", "ResidualQuantizer", "kmeans", "nearest_code"]
