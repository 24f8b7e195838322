"""Files the package writes get the user's normal permissions (0o666 & ~umask), not mkstemp's
0o600: PNGs (save_figure), TrackML CSV (write_trackml), parquet datasets, model files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from helixkit._files import default_file_mode
from helixkit.data import simulate_event, write_trackml
from helixkit.plots import pyplot, save_figure


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_default_file_mode(umask: int) -> None:
    assert default_file_mode() == 0o666 & ~umask
    assert os.umask(umask) == umask  # reading it left it unchanged


def test_written_files_have_the_default_file_mode(umask: int, tmp_path: Path) -> None:
    fig = pyplot().figure()
    png = save_figure(fig, tmp_path / "a.png")
    assert _mode(png) == 0o666 & ~umask
    paths = write_trackml(simulate_event(mu=1, seed=1), tmp_path / "csv")
    for p in paths.values():
        assert _mode(p) == 0o666 & ~umask, p
    plain = tmp_path / "plain"
    plain.write_text("x")
    assert _mode(png) == _mode(plain)
    pytest.importorskip("pyarrow")
    from helixkit.data import write_parquet_events

    write_parquet_events([simulate_event(mu=1, seed=1)], tmp_path / "pq")
    for p in (tmp_path / "pq").iterdir():
        assert _mode(p) == 0o666 & ~umask, p


def test_checkpoints_have_the_default_file_mode(umask: int, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from helixkit import nn
    from helixkit.trackformer import TrackFormer, TrackFormerConfig

    model = TrackFormer(TrackFormerConfig(model_dim=16, n_layers=1, n_heads=2))
    path = nn.save(model, tmp_path / "tf.pt")
    assert _mode(path) == 0o666 & ~umask
