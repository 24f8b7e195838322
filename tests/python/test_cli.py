from __future__ import annotations

import json

import pytest

from helixkit.cli import main
from helixkit.data import list_trackml_events, read_trackml


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("demo", "simulate", "info"):
        assert cmd in out


def test_simulate_writes_trackml_csv(tmp_path):
    assert main(["simulate", "--out", str(tmp_path), "--events", "2", "--mu", "3",
                 "--no-progress", "--first-event", "5"]) == 0
    assert list_trackml_events(tmp_path) == [5, 6]
    ev = read_trackml(tmp_path, 6)
    assert ev.n_hits > 0 and ev.has_truth


def test_simulate_rejects_bad_arguments(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path), "--events", "0"]) == 2
    assert "--events" in capsys.readouterr().err


def test_demo_writes_report_and_plots(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--events", "1", "--mu", "5", "--no-progress"]) == 0
    assert (out / "report.md").exists()
    assert (out / "event_display.png").stat().st_size > 10_000
    results = json.loads((out / "results.json").read_text())
    for stage in ("simulation", "seeding", "hashing", "fitting", "clustering", "learned",
                  "trackformer", "tokens", "deepcore"):
        assert stage in results, stage
    assert (out / "fit_pulls.png").exists()
    assert (out / "deepcore_efficiency.png").exists()
    dc = results["deepcore"]["methods"]
    assert dc["deepcore"]["efficiency"] > dc["standard"]["efficiency"]
    assert 0.0 <= results["seeding"]["efficiency"] <= 1.0


def test_demo_rejects_unknown_stage(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--stages", "nope", "--no-progress"]) == 2
    assert "unknown demo stage" in capsys.readouterr().err
