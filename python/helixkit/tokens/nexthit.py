"""NextHitModel: a causal transformer that reads a track's hits so far and predicts its next
one (the seed talk's "concatenate the token with the hit and its layer, predict the next
token, hit and layer").

Each step embeds the hit's tokens (the sum of one learned embedding per tokeniser level), its
position in the track frame (:mod:`helixkit.tokens.sequences`) and its layer, plus the step
index; a pre-norm transformer with a causal mask turns steps 0..t into a state h_t. Heads:

- next token (level 0 of the tokeniser), next layer (the layers, plus "the track ends");
- with ``helix_prior`` each step also embeds the layer that the helix through hits t-2, t-1,
  t meets next (the navigator's answer, a strong hint for the next layer);
- next position, **conditioned on the next layer** (its embedding is an input of the head:
  the true layer in training, the predicted one in inference). With ``helix_prior`` the head
  gets the helix through hits t-2, t-1, t extrapolated to that layer and predicts its
  correction (``prior_scale`` mm units); otherwise (and before three hits) it predicts the
  step from hit t (``step_scale`` mm units).

``inputs="tokens"`` is the token-only baseline: tokens and step index in, the next token out.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import require
from ..nn.registry import register_model


@dataclass
class NextHitConfig:
    """Next-hit model settings (lengths in mm)."""

    #: "full": tokens + position + layer in, token + layer + position out;
    #: "tokens": tokens in, token out (the token-only baseline).
    inputs: str = "full"
    codebook_size: int = 2048
    levels: int = 4
    n_layer_ids: int = 64
    d_model: int = 128
    n_heads: int = 4
    n_blocks: int = 3
    ff: int = 256
    dropout: float = 0.0
    max_len: int = 32
    helix_prior: bool = True
    length_scale: float = 1000.0
    step_scale: float = 100.0
    prior_scale: float = 10.0
    w_token: float = 1.0
    w_layer: float = 1.0
    w_position: float = 10.0
    #: smooth-L1 transition of the position loss, in units of the head's scale
    huber_beta: float = 0.05
    #: fingerprint of the tokeniser whose tokens the model reads (:func:`tokenizer_digest`)
    tokenizer: str = ""

    def validate(self) -> None:
        require(self.inputs in ("full", "tokens"), self, "inputs", "must be 'full' or 'tokens'")
        require(self.codebook_size >= 2, self, "codebook_size", "must be >= 2")
        require(1 <= self.levels <= 16, self, "levels", "must be in [1, 16]")
        require(self.n_layer_ids >= 1, self, "n_layer_ids", "must be >= 1")
        require(self.d_model >= 8 and self.d_model % self.n_heads == 0, self, "d_model",
                "must be >= 8 and divisible by n_heads")
        require(self.n_heads >= 1 and self.n_blocks >= 1 and self.ff >= 1, self, "n_blocks",
                "n_heads, n_blocks and ff must be >= 1")
        require(0.0 <= self.dropout < 1.0, self, "dropout", "must be in [0, 1)")
        require(self.max_len >= 4, self, "max_len", "must be >= 4")
        for f in ("length_scale", "step_scale", "prior_scale", "huber_beta"):
            v = getattr(self, f)
            require(v > 0 and math.isfinite(v), self, f, "must be finite and > 0")
        for f in ("w_token", "w_layer", "w_position"):
            v = getattr(self, f)
            require(v >= 0 and math.isfinite(v), self, f, "must be finite and >= 0")

    @property
    def end_class(self) -> int:
        """The layer class that means "the track ends here"."""
        return self.n_layer_ids


def _head(n_in: int, hidden: int, n_out: int) -> nn.Module:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                         nn.Linear(hidden, n_out))


@register_model("next_hit", NextHitConfig)
class NextHitModel(nn.Module):
    """Tracks so far (B, T) → next token, next layer and next position at every step."""

    def __init__(self, config: NextHitConfig | None = None) -> None:
        super().__init__()
        cfg = config or NextHitConfig()
        cfg.validate()
        self.config = cfg
        d = cfg.d_model
        full = cfg.inputs == "full"
        # one embedding table for all levels (level l's codes at offset l * codebook_size)
        self.token_embed = nn.Embedding(cfg.levels * cfg.codebook_size, d)
        self.step_embed = nn.Embedding(cfg.max_len, d)
        self.layer_embed = nn.Embedding(cfg.n_layer_ids + 1, d) if full else None
        self.pos_in = nn.Sequential(nn.Linear(4, d), nn.SiLU(), nn.Linear(d, d)) if full else None
        self.helix_layer_embed = nn.Embedding(cfg.n_layer_ids + 1, d) \
            if full and cfg.helix_prior else None
        block = nn.TransformerEncoderLayer(d, cfg.n_heads, cfg.ff, cfg.dropout, batch_first=True,
                                           norm_first=True, activation="gelu")
        self.trunk = nn.TransformerEncoder(block, cfg.n_blocks, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.token_head = nn.Linear(d, cfg.codebook_size)
        if full:
            self.layer_head = nn.Linear(d, cfg.n_layer_ids + 1)
            self.next_layer_embed = nn.Embedding(cfg.n_layer_ids + 1, d)
            self.step_head = _head(2 * d, d, 3)
            self.prior_head = _head(2 * d + 3, d, 3) if cfg.helix_prior else None
        self.register_buffer("_offsets", torch.arange(cfg.levels) * cfg.codebook_size,
                             persistent=False)

    # ------------------------------------------------------------------ trunk
    def encode(self, tokens: torch.Tensor, local: torch.Tensor, layer: torch.Tensor,
               length: torch.Tensor, helix_layer: torch.Tensor | None = None) -> torch.Tensor:
        """States h (B, T, d) from tokens (B, T, levels), track-frame positions (B, T, 3) [mm],
        layers (B, T), lengths (B,) and the helix's next layers (B, T; -1: none); step t sees
        steps <= t only."""
        B, T = layer.shape
        cfg = self.config
        valid = torch.arange(T, device=layer.device)[None, :] < length[:, None]
        tok = torch.where(valid[..., None], tokens, 0).clamp(min=0) + self._offsets
        x = self.token_embed(tok).sum(2) + self.step_embed.weight[:T][None]
        if self.layer_embed is not None and self.pos_in is not None:
            lay = torch.where(valid, layer, cfg.n_layer_ids).clamp(0, cfg.n_layer_ids)
            p = local / cfg.length_scale
            r = torch.linalg.vector_norm(p[..., :2], dim=-1, keepdim=True)
            x = x + self.layer_embed(lay) + self.pos_in(torch.cat([p, r], -1))
        if self.helix_layer_embed is not None:
            if helix_layer is None:
                msg = "helix_layer: this next-hit model reads the helix's next layer"
                raise ValueError(msg)
            hl = torch.where(valid & (helix_layer >= 0), helix_layer, cfg.n_layer_ids)
            x = x + self.helix_layer_embed(hl.clamp(0, cfg.n_layer_ids))
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool, device=layer.device), 1)
        h = self.trunk(x, mask=causal, src_key_padding_mask=~valid, is_causal=True)
        return self.norm(h)

    def token_logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.token_head(h)

    def layer_logits(self, h: torch.Tensor) -> torch.Tensor:
        self._need_full("layer")
        return self.layer_head(h)

    def position(self, h: torch.Tensor, local: torch.Tensor, next_layer: torch.Tensor,
                 prior: torch.Tensor, prior_ok: torch.Tensor) -> torch.Tensor:
        """Next positions (B, T, 3) in the track frame [mm] given the next layers (B, T) and
        the helix priors to them (track frame; used where ``prior_ok``)."""
        self._need_full("position")
        cfg = self.config
        e = self.next_layer_embed(next_layer.clamp(0, cfg.n_layer_ids))
        hx = torch.cat([h, e], -1)
        if self.prior_head is None:
            return local + cfg.step_scale * self.step_head(hx)
        # each step runs the one head it uses: the prior correction where the helix reaches
        # the next layer, the free step elsewhere (same values as running both and choosing)
        out = torch.empty_like(local)
        free = ~prior_ok
        out[free] = local[free] + cfg.step_scale * self.step_head(hx[free])
        rel = (prior[prior_ok] - local[prior_ok]) / cfg.length_scale
        out[prior_ok] = prior[prior_ok] + cfg.prior_scale * self.prior_head(
            torch.cat([hx[prior_ok], rel], -1))
        return out

    def _need_full(self, what: str) -> None:
        if self.config.inputs != "full":
            msg = f"a token-only next-hit model (inputs='tokens') has no {what} head"
            raise ValueError(msg)

    # ------------------------------------------------------------------ training
    def loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Cross-entropies of the next token and layer plus the smooth-L1 position loss (in
        units of the head's scale), over every step that has a next hit (the layer head
        also learns where tracks end)."""
        tokens, local, layer, length, prior, prior_ok, helix_layer = _trim(batch)
        cfg = self.config
        h = self.encode(tokens, local, layer, length, helix_layer)
        B, T = layer.shape
        t_idx = torch.arange(T, device=layer.device)[None, :]
        has_next = t_idx < (length[:, None] - 1)
        nxt_tok = torch.roll(tokens[..., 0], -1, 1)
        loss = cfg.w_token * F.cross_entropy(self.token_logits(h)[has_next], nxt_tok[has_next])
        if cfg.inputs != "full":
            return loss
        in_track = t_idx < length[:, None]
        nxt_layer = torch.where(has_next, torch.roll(layer, -1, 1), cfg.end_class)
        loss = loss + cfg.w_layer * F.cross_entropy(self.layer_logits(h)[in_track],
                                                    nxt_layer[in_track])
        pred = self.position(h, local, nxt_layer, prior, prior_ok)
        target = torch.roll(local, -1, 1)
        scale = torch.where(prior_ok, cfg.prior_scale, cfg.step_scale)
        if self.prior_head is None:
            scale = torch.full_like(scale, cfg.step_scale)
        err = (pred - target) / scale[..., None]
        pos = F.smooth_l1_loss(err[has_next], torch.zeros_like(err[has_next]),
                               beta=cfg.huber_beta, reduction="none").sum(-1).mean()
        return loss + cfg.w_position * pos


@dataclass
class TokenNextHitConfig(NextHitConfig):
    """The token-only baseline's settings: tokens in, the next token out."""

    inputs: str = "tokens"
    helix_prior: bool = False

    def validate(self) -> None:
        super().validate()
        require(self.inputs == "tokens", self, "inputs", "must be 'tokens' (the token-only model)")


@register_model("next_hit_tokens", TokenNextHitConfig)
class TokenNextHitModel(NextHitModel):
    """The token-only baseline (registered ``"next_hit_tokens"``): next-token prediction from
    the tokens so far, no positions or layers."""

    def __init__(self, config: TokenNextHitConfig | None = None) -> None:
        super().__init__(config or TokenNextHitConfig())


def _trim(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The batch cut to its longest track (sequences are padded to ``max_len``)."""
    length = batch[3]
    T = max(int(length.max()), 1) if len(length) else 1
    return tuple(b if b.ndim < 2 else b[:, :T] for b in batch)


def tokenizer_digest(tokenizer: Any) -> str:
    """A short fingerprint of a tokeniser's codebooks (the tokens a next-hit model reads)."""
    book = tokenizer.quantizer.codebook.detach().cpu().numpy().astype("<f4")
    return hashlib.sha256(book.tobytes()).hexdigest()[:16]


def batch_tensors(seqs: Any) -> tuple[torch.Tensor, ...]:
    """The model's training tensors of :class:`~helixkit.tokens.sequences.TrackSequences`:
    (tokens, local positions, layers, lengths, priors, prior_ok, helix layers)."""
    return (torch.from_numpy(seqs.tokens), torch.from_numpy(seqs.local()).float(),
            torch.from_numpy(seqs.layer), torch.from_numpy(seqs.length),
            torch.from_numpy(seqs.prior).float(), torch.from_numpy(seqs.prior_ok),
            torch.from_numpy(seqs.helix_layer))


__all__ = ["NextHitConfig", "NextHitModel", "TokenNextHitConfig", "TokenNextHitModel",
           "batch_tensors", "tokenizer_digest"]
