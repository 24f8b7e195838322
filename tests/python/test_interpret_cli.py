"""``helixkit interpret gc|edge|trackformer`` on a tiny sample (issue 30)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helixkit.cli import main

TINY = ["--events", "1", "--mu", "5", "--repeats", "1", "--max-units", "400",
        "--mi-samples", "300", "--top", "1", "--no-progress"]


def test_help_lists_the_models(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["interpret", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("gc", "edge", "trackformer", "--events", "--out"):
        assert name in out


@pytest.mark.parametrize("model", ["gc", "trackformer"])
def test_report_on_a_tiny_sample(tmp_path, capsys, model):
    out = tmp_path / model
    assert main(["interpret", model, "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "layer proficiency" in printed and "random calibration" in printed
    res = json.loads((out / "report.json").read_text())
    layers = {"gc": ["encoder", "blocks.0", "blocks.1", "blocks.2"],
              "trackformer": ["embed", "encoder.layers.0", "encoder.layers.1", "head.0"]}[model]
    assert list(res["proficiency"]) == layers
    for row in (*res["proficiency"].values(), *res["calibration"].values()):
        assert set(row) == {"pt", "qopt", "eta", "phi", "d0", "z0"}
        assert all(np.isfinite(v) for v in row.values())
    assert list(res["calibration"]) == ["uniform", "normal", "poisson"]
    # the top neuron is the most important one of the tables, with its plots and formula
    (top,) = res["top_neurons"]
    assert top["layer"] in layers
    per_layer = [v for la in layers for v in res["neuron_mi"][la]]
    assert len(per_layer) == sum({"gc": 128, "trackformer": 128}[model] for _ in layers)
    tag = f"{model}_{top['layer'].replace('.', '')}_n{top['neuron']}"
    for suffix in ("_map.png", "_vs.png"):
        assert (out / f"{tag}{suffix}").read_bytes()[:4] == b"\x89PNG"
    (formula,) = res["formulas"]
    assert 0.0 <= formula["r2"] <= 1.0 and formula["formula"]
    if model == "gc":
        assert 0 < res["baseline"] <= 1
        extra = res["baseline_extra"]
        f1 = 2 * extra["edge_efficiency"] * extra["edge_purity"] / (
            extra["edge_efficiency"] + extra["edge_purity"])
        assert res["baseline"] == pytest.approx(f1)
    else:
        assert 0 < res["baseline"] < 1   # a relative pT resolution
    md = (out / "report.md").read_text()
    for section in ("Permutation importance of the inputs", "Layer proficiency",
                    "Random-variable calibration", f"{tag}_map.png"):
        assert section in md


def test_rejects_bad_values(tmp_path, capsys):
    assert main(["interpret", "gc", "--out", str(tmp_path), "--events", "0"]) == 2
    assert "n_events (=0) must be >= 1" in capsys.readouterr().err


def test_proficiency_of_a_low_rank_layer_uses_its_rank():
    from helixkit.interpret import gaussian_mi, layer_proficiency
    from helixkit.interpret.run import _rank_reduced

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 3))
    y = x[:, 0] + 0.3 * rng.normal(size=3000)
    layer = x @ rng.normal(size=(3, 128))      # 128 neurons, rank 3
    assert _rank_reduced(layer).shape == (3000, 3)
    exact = gaussian_mi(1 / np.sqrt(1 + 0.09), 1)
    mi = layer_proficiency({"layer": _rank_reduced(layer)}, {"y": y}).values[0, 0]
    assert abs(mi - exact) < 0.08, (mi, exact)
