"""Training infrastructure shared by helixkit's ML systems.

- :class:`TrainConfig`: strict config (JSON files; unknown keys are errors).
- :func:`seed_everything`: python / numpy / torch seeds and deterministic algorithms.
- :func:`select_device`: CPU by default, CUDA when present and asked for.
- :class:`Trainer`: AdamW, linear warm-up then cosine decay, early stopping on
  the validation loss, tqdm progress, per-epoch CSV + JSON logs, a loss-curve
  PNG, and checkpoints (``last.pt`` every epoch, ``best.pt`` on improvement)
  that hold the model config, the training config, the optimiser state and the
  metrics, so a run can be resumed.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import require
from ..plots import pyplot, save_figure
from .config import DataConfig, config_from_dict
from .registry import read_checkpoint, save

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass
class TrainConfig:
    """Optimisation settings (units: epochs, samples, learning rate)."""

    epochs: int = 20
    batch_size: int = 1024
    lr: float = 5e-4
    weight_decay: float = 1e-2
    warmup_fraction: float = 0.05
    min_lr_fraction: float = 0.02
    patience: int = 5
    seed: int = 0
    device: str = "cpu"
    num_threads: int = 0
    grad_clip: float = 1.0
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        require(self.epochs >= 1, self, "epochs", "must be >= 1")
        require(self.batch_size >= 1, self, "batch_size", "must be >= 1")
        require(self.lr > 0 and math.isfinite(self.lr), self, "lr", "must be finite and > 0")
        require(self.weight_decay >= 0, self, "weight_decay", "must be >= 0")
        require(0 <= self.warmup_fraction < 1, self, "warmup_fraction", "must be in [0, 1)")
        require(0 <= self.min_lr_fraction <= 1, self, "min_lr_fraction", "must be in [0, 1]")
        require(self.patience >= 1, self, "patience", "must be >= 1")
        require(self.device in ("cpu", "cuda", "auto"), self, "device", "must be 'cpu', 'cuda' or 'auto'")
        require(self.num_threads >= 0, self, "num_threads", "must be >= 0 (0 = torch default)")
        require(self.grad_clip >= 0, self, "grad_clip", "must be >= 0 (0 = off)")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch; use deterministic torch algorithms where available."""
    import torch  # noqa: PLC0415

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def world() -> tuple[int, int]:
    """``(rank, world size)`` of the torch.distributed process group; ``(0, 1)`` outside
    one (torch not imported, or no group initialised)."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def is_main_process() -> bool:
    """True on rank 0 of a distributed training (and always outside one): the process that
    writes checkpoints, logs and outputs."""
    return world()[0] == 0


def _loss_module(model: nn.Module, loss_fn: Callable[..., torch.Tensor]) -> nn.Module:
    """A module with ``forward(batch) = loss_fn(model, batch)``, for DistributedDataParallel
    to wrap: its gradient all-reduce then covers whatever the loss function calls on the
    model (``model(x)``, ``model.loss(batch)``, ...)."""
    import torch  # noqa: PLC0415

    class LossModule(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, batch: tuple[Any, ...]) -> torch.Tensor:
            return loss_fn(self.model, batch)

    return LossModule()


def select_device(name: str = "cpu") -> torch.device:
    import torch  # noqa: PLC0415

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        msg = "device='cuda' requested but CUDA is not available"
        raise ValueError(msg)
    return torch.device(name)


def lr_factor(step: int, total: int, warmup: int, floor: float) -> float:
    """Linear warm-up to 1, then cosine decay to ``floor``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    t = (step - warmup) / max(total - warmup, 1)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


class Trainer:
    """Train ``model`` on tensors with ``loss_fn(model, batch) -> scalar``.

    ``train`` and ``val`` are tuples of tensors with the same first dimension
    (batches are slices of a per-epoch seeded permutation for training, in
    order for validation), or lists of ready-made batches (e.g. one per event),
    visited in a per-epoch seeded order.

    Inside a torch.distributed process group of N > 1 processes (``helixkit train ...
    --nproc N``, or torchrun) the same call trains with DistributedDataParallel: a
    ``DistributedSampler`` (seed ``config.seed``, reshuffled each epoch) gives each rank its
    share of the batches, DDP all-reduces the gradients, the validation loss is summed over
    the ranks (so every rank stops at the same epoch), and rank 0 alone writes checkpoints
    and logs. With one process nothing of this runs: the training is the single-process one.
    """

    def __init__(self, model: nn.Module,
                 loss_fn: Callable[[nn.Module, tuple[Any, ...]], torch.Tensor],
                 config: TrainConfig, out_dir: str | os.PathLike[str] | None = None) -> None:
        config.validate()
        self.model = model
        self.loss_fn = loss_fn
        self.config = config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.history: list[dict[str, float]] = []
        self.best_val = math.inf
        self.start_epoch = 0

    def _shard(self, n: int, shuffle: bool, epoch: int) -> list[int] | None:
        """This rank's batch indices among ``n`` (None outside a distributed training)."""
        rank, size = world()
        if size == 1:
            return None
        from torch.utils.data import DistributedSampler  # noqa: PLC0415

        if not shuffle:      # validation: every batch once, no padding
            return list(range(rank, n, size))
        sampler = DistributedSampler(range(n), num_replicas=size, rank=rank, shuffle=True,
                                     seed=self.config.seed, drop_last=False)
        sampler.set_epoch(epoch)
        return list(sampler)

    def _batches(self, data: Any, shuffle: bool, epoch: int) -> Iterator[tuple[Any, ...]]:
        import torch  # noqa: PLC0415

        if isinstance(data, list):  # a list of ready-made batches (e.g. one per event)
            shard = self._shard(len(data), shuffle, epoch)
            if shard is not None:
                for i in shard:
                    yield data[i]
                return
            order = (torch.randperm(len(data), generator=torch.Generator().manual_seed(
                self.config.seed * 1000003 + epoch)) if shuffle else torch.arange(len(data)))
            for i in order.tolist():
                yield data[i]
            return
        n = len(data[0])
        if shuffle:
            g = torch.Generator().manual_seed(self.config.seed * 1000003 + epoch)
            order = torch.randperm(n, generator=g)
        else:
            order = torch.arange(n)
        bs = self.config.batch_size
        starts = list(range(0, n, bs))
        shard = self._shard(len(starts), shuffle, epoch)
        for k in (range(len(starts)) if shard is None else shard):
            idx = order[starts[k] : starts[k] + bs]
            yield tuple(t[idx] for t in data)

    def evaluate(self, data: tuple[Any, ...]) -> float:
        import torch  # noqa: PLC0415

        self.model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for batch in self._batches(data, False, 0):
                total += float(self.loss_fn(self.model, batch)) * len(batch[0])
                count += len(batch[0])
        if world()[1] > 1:       # the loss over every rank's share
            total, count = _all_sum(total, count)
        return total / max(count, 1)

    def resume(self, checkpoint: str | os.PathLike[str]) -> None:
        """Continue from a ``last.pt`` written by this trainer."""
        payload = read_checkpoint(checkpoint)
        state = payload.get("extra", {}).get("trainer")
        if not state:
            msg = f"{checkpoint}: has no trainer state to resume from"
            raise ValueError(msg)
        self.model.load_state_dict(payload["state_dict"])
        self._resume_state = state
        self.history = list(state["history"])
        self.best_val = float(state["best_val"])
        self.start_epoch = int(state["epoch"]) + 1

    def fit(self, train: tuple[Any, ...], val: tuple[Any, ...]) -> list[dict[str, float]]:
        import torch  # noqa: PLC0415

        cfg = self.config
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        rank, size = world()
        opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        if isinstance(train, list):  # ready-made batches: one optimiser step each
            steps_per_epoch = max(len(train), 1)
        else:
            steps_per_epoch = max(math.ceil(len(train[0]) / cfg.batch_size), 1)
        engine = None
        if size > 1:                 # each rank takes every size-th batch (sampler, padded)
            steps_per_epoch = max(math.ceil(steps_per_epoch / size), 1)
            from torch.nn.parallel import DistributedDataParallel  # noqa: PLC0415

            engine = DistributedDataParallel(_loss_module(self.model, self.loss_fn),
                                             find_unused_parameters=True)
        total = steps_per_epoch * cfg.epochs
        warmup = int(cfg.warmup_fraction * total)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: lr_factor(s, total, warmup, cfg.min_lr_fraction)
        )
        state = getattr(self, "_resume_state", None)
        if state:
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
        bad_epochs = int(state["bad_epochs"]) if state else 0
        epochs: Any = range(self.start_epoch, cfg.epochs)
        if cfg.progress and rank == 0:
            from tqdm.auto import tqdm  # noqa: PLC0415

            epochs = tqdm(epochs, desc=f"training {getattr(self.model, 'model_name', 'model')}",
                          unit="epoch")
        for epoch in epochs:
            t_epoch = time.perf_counter()
            self.model.train()
            tot, cnt = 0.0, 0
            for batch in self._batches(train, True, epoch):
                opt.zero_grad(set_to_none=True)
                loss = self.loss_fn(self.model, batch) if engine is None else engine(batch)
                finite = bool(torch.isfinite(loss)) if engine is None else \
                    _all_sum(float(not torch.isfinite(loss)), 0)[0] == 0   # stop together
                if not finite:
                    msg = f"loss became {float(loss)} at epoch {epoch}; lower lr?"
                    raise FloatingPointError(msg)
                loss.backward()
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                opt.step()
                sched.step()
                tot += float(loss.detach()) * len(batch[0])
                cnt += len(batch[0])
            if size > 1:
                tot, cnt = _all_sum(tot, cnt)
            val_loss = self.evaluate(val)
            row = {"epoch": epoch, "train_loss": tot / max(cnt, 1), "val_loss": val_loss,
                   "lr": float(sched.get_last_lr()[0]),
                   "epoch_s": time.perf_counter() - t_epoch}   # training + validation
            self.history.append(row)
            improved = val_loss < self.best_val
            if improved:
                self.best_val = val_loss
                bad_epochs = 0
            else:
                bad_epochs += 1
            if hasattr(epochs, "set_postfix"):
                epochs.set_postfix(train=f"{row['train_loss']:.4g}", val=f"{val_loss:.4g}")
            self._write(epoch, improved, opt, sched, bad_epochs)
            if bad_epochs >= cfg.patience:
                break
        if self.out_dir is not None and rank == 0 and (self.out_dir / "best.pt").exists():
            self.model.load_state_dict(read_checkpoint(self.out_dir / "best.pt")["state_dict"])
        if size > 1 and self.out_dir is not None:    # rank 0's best weights to every rank
            import torch.distributed as dist  # noqa: PLC0415

            for t in self.model.state_dict().values():
                dist.broadcast(t, 0)
        self.model.eval()
        return self.history

    def _write(self, epoch: int, improved: bool, opt: Any, sched: Any, bad_epochs: int) -> None:
        if self.out_dir is None or not is_main_process():
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        metrics = {"best_val_loss": self.best_val, **self.history[-1]}
        trainer_state = {
            "epoch": epoch, "history": self.history, "best_val": self.best_val,
            "bad_epochs": bad_epochs, "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "train_config": dataclasses.asdict(self.config),
        }
        save(self.model, self.out_dir / "last.pt", metrics=metrics,
             extra={"trainer": trainer_state})
        if improved:
            save(self.model, self.out_dir / "best.pt", metrics=metrics)
        with open(self.out_dir / "history.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(self.history[0]))
            w.writeheader()
            w.writerows(self.history)
        (self.out_dir / "history.json").write_text(json.dumps(self.history, indent=1))
        plot_history(self.history, self.out_dir / "loss.png")


def _all_sum(*values: float) -> tuple[float, ...]:
    """The sums of ``values`` over the ranks of the process group (float64)."""
    import torch  # noqa: PLC0415
    import torch.distributed as dist  # noqa: PLC0415

    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return tuple(float(v) for v in t)


def plot_history(history: list[dict[str, float]], path: str | os.PathLike[str]) -> Path:
    """Loss curves (train and validation) per epoch."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ep = [h["epoch"] for h in history]
    ax.plot(ep, [h["train_loss"] for h in history], "o-", label="train")
    ax.plot(ep, [h["val_loss"] for h in history], "s-", label="validation")
    ax.set(xlabel="epoch", ylabel="loss", yscale="log", title="loss curves")
    ax.legend()
    return save_figure(fig, path)


def training_sections(config: dict[str, Any], model_config: type, *, progress: bool = True,
                      train_defaults: dict[str, Any] | None = None,
                      data_config: type = DataConfig) -> tuple[Any, Any, TrainConfig]:
    """The ``data``, ``model`` and ``train`` sections of a system's training config file, each
    checked strictly (an unknown section or field is a ``ValueError`` naming it);
    ``train_defaults`` are the system's own defaults under the file's ``train`` values;
    ``data_config``: the system's ``data`` section (a :class:`DataConfig` or an extension)."""
    unknown = sorted(set(config) - {"data", "model", "train"})
    if unknown:
        msg = f"config: unknown section(s) {unknown}; valid: ['data', 'model', 'train']"
        raise ValueError(msg)
    data = config_from_dict(data_config, config.get("data", {}), where="config.data")
    model = config_from_dict(model_config, config.get("model", {}), where="config.model")
    train = config_from_dict(TrainConfig, {"progress": progress, **(train_defaults or {}),
                                           **config.get("train", {})}, where="config.train")
    return data, model, train


__all__ = ["TrainConfig", "Trainer", "is_main_process", "lr_factor", "plot_history",
           "seed_everything", "select_device", "training_sections", "world"]
