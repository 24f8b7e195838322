"""Edge classifier with more than one refinement pass (EdgeConfig.refine_passes)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helixkit import nn  # noqa: E402
from helixkit.data import simulate_event  # noqa: E402
from helixkit.learned.edge import EdgeClassifier, EdgeConfig, triplet_inputs  # noqa: E402
from helixkit.learned.gc import GCConfig, GraphConstructionNet  # noqa: E402
from helixkit.learned import edge_batch, train_edge  # noqa: E402
from helixkit.nn import TrainConfig  # noqa: E402
from helixkit.learned.config import parse_config as _parse  # noqa: E402

# the state-dict keys of a two-pass classifier before refine_passes existed
LEGACY_KEYS = {"x_mean", "x_std", "x2_mean", "x2_std"} | {
    f"{net}.{layer}.{w}" for net in ("net", "net2") for layer in (0, 2, 4, 6)
    for w in ("weight", "bias")}


@pytest.fixture(scope="module")
def setting():
    train = [simulate_event(mu=4, seed=s) for s in range(2)]
    val = [simulate_event(mu=4, seed=50)]
    torch.manual_seed(0)
    gc = GraphConstructionNet(GCConfig(hidden_dim=16, depth=2))
    tcfg = TrainConfig(epochs=1, lr=1e-3, batch_size=2048, progress=False, num_threads=1)
    return train, val, gc, tcfg


def _cfg(gc, **kw):
    return EdgeConfig(emb_dim=gc.config.out_dim, k=6, hidden_dim=16, prune=0.05, **kw)


def test_config_rule():
    for bad in (0, 5, True, 1.5, "2"):
        with pytest.raises(ValueError, match="refine_passes"):
            EdgeConfig(refine_passes=bad).validate()
    assert EdgeConfig().n_passes == 2
    assert EdgeConfig(refine=False, refine_passes=3).n_passes == 1
    assert EdgeConfig(refine_passes=3).n_passes == 4
    # the default classifier keeps the state-dict layout of older checkpoints
    assert set(EdgeClassifier(EdgeConfig(n_hidden=3)).state_dict()) == LEGACY_KEYS
    with pytest.raises(ValueError, match="stage: must be in"):
        EdgeClassifier(EdgeConfig()).pass_modules(3)


def test_scores_chain_the_passes(setting):
    """score() = pass 3 on the triplet inputs of pass 2's scores, which come from pass 1's;
    edges pruned after pass 1 keep that score."""
    train, _, gc, _ = setting
    torch.manual_seed(1)
    model = EdgeClassifier(_cfg(gc, refine_passes=2))
    x, _, i, j, _ = edge_batch(train[0], gc, model.config)
    s1 = model._run(x, 1)
    model.config.prune = float(np.median(s1))    # untrained: prune half the edges
    keep = s1 > model.config.prune
    assert 0 < keep.sum() < len(keep)
    s2 = s1.copy()
    s2[keep] = model._run(triplet_inputs(x, s1, i, j, model.config)[keep], 2)
    s3 = s1.copy()
    s3[keep] = model._run(triplet_inputs(x, s2, i, j, model.config)[keep], 3)
    assert np.array_equal(model.score(x, i, j), s3)
    rows = np.flatnonzero(keep)[::-1]      # any subset, any order: the same rows as all-then-index
    assert np.array_equal(triplet_inputs(x, s2, i, j, model.config, rows=rows),
                          triplet_inputs(x, s2, i, j, model.config)[rows])
    assert not np.array_equal(s3, s2)
    x3, k3 = model.pass_inputs(x, i, j, 3)
    assert np.array_equal(k3, keep)
    assert np.array_equal(x3, triplet_inputs(x, s2, i, j, model.config)[keep])
    with pytest.raises(ValueError, match="refinement pass"):
        model.pass_inputs(x, i, j, 1)
    # without the hits of each edge only the first pass runs
    assert np.array_equal(model.score(x), s1)


def test_add_a_third_pass(setting, tmp_path):
    train, val, gc, tcfg = setting
    two = train_edge(train, val, gc, _cfg(gc), tcfg, tmp_path / "two")
    three = train_edge(train, val, gc, _cfg(gc, refine_passes=2), tcfg, tmp_path / "three",
                       init=two, stages=(3,))
    s0, s1 = two.state_dict(), three.state_dict()
    assert all(torch.equal(s0[k], s1[k]) for k in s0)      # passes 1 and 2 as init had them
    assert torch.equal(s1["x3_mean"], s1["x2_mean"])        # pass 3 started as a copy of 2 ...
    assert any(not torch.equal(s1[f"net3.{k}"], s1[f"net2.{k}"])   # ... and was trained
               for k in ("0.weight", "6.bias"))
    assert (tmp_path / "three" / "refine3" / "history.json").exists()
    assert not (tmp_path / "three" / "history.json").exists()
    # the checkpoint restores all three passes
    path = nn.save(three, tmp_path / "three.pt")
    back = nn.load(path)
    x, _, i, j, _ = edge_batch(val[0], gc, three.config)
    assert back.config.refine_passes == 2
    assert np.array_equal(back.score(x, i, j), three.score(x, i, j))
    # all passes from scratch: each gets its own standardisation
    fresh = train_edge(train, val, gc, _cfg(gc, refine_passes=2), tcfg)
    assert not torch.equal(fresh.state_dict()["x3_mean"], torch.zeros_like(s1["x3_mean"]))
    assert not torch.equal(fresh.state_dict()["x3_mean"], fresh.state_dict()["x2_mean"])


def test_stage_rules(setting):
    train, val, gc, tcfg = setting
    one = train_edge(train, val, gc, _cfg(gc, refine=False), tcfg)
    three_cfg = _cfg(gc, refine_passes=2)
    # pass 2 left out but init has only pass 1
    with pytest.raises(ValueError, match=r"leaving out passes \[2\] needs init"):
        train_edge(train, val, gc, three_cfg, tcfg, init=one, stages=(1, 3))
    with pytest.raises(ValueError, match=r"passes 1\.\.3"):
        train_edge(train, val, gc, three_cfg, tcfg, init=one, stages=(4,))
    # a classifier with more passes than the config cannot be the start
    three = train_edge(train, val, gc, three_cfg, tcfg)
    with pytest.raises(ValueError, match="init: the classifier to fine-tune has 3 scoring passes"):
        train_edge(train, val, gc, _cfg(gc), tcfg, init=three, stages=(2,))
    # a one-pass start: pass 2 is new (own standardisation), pass 3 a copy of the trained 2
    grown = train_edge(train, val, gc, three_cfg, tcfg, init=one, stages=(2, 3))
    sd = grown.state_dict()
    assert torch.equal(sd["x3_mean"], sd["x2_mean"])
    assert not torch.equal(sd["x2_mean"], torch.zeros_like(sd["x2_mean"]))


def test_config_stages():
    base = {"method": "edge", "edge_checkpoint": "x.pt"}
    three = {**base, "edge": {"refine_passes": 2}}
    assert _parse(three, progress=False)["edge_stages"] == (1, 2, 3)
    assert _parse({**three, "edge_stages": [3]}, progress=False)["edge_stages"] == (3,)
    assert _parse(base, progress=False)["edge_stages"] == (1, 2)
    for bad in ([3], [0], [1.0]):
        with pytest.raises(ValueError, match=r"config.edge_stages must be .*1\.\.2"):
            _parse({**base, "edge_stages": bad}, progress=False)
    with pytest.raises(ValueError, match=r"refine_passes \(=9\) must be an integer in \[1, 4\]"):
        _parse({**base, "edge": {"refine_passes": 9}}, progress=False)
    with pytest.raises(ValueError, match=r"leaving out passes \[1, 2\] needs config.edge_checkpoint"):
        _parse({"method": "edge", "edge": {"refine_passes": 2}, "edge_stages": [3]},
               progress=False)
    with pytest.raises(ValueError, match="must be a list of pass numbers"):
        _parse({**base, "edge_stages": 3}, progress=False)


def test_fewer_passes_of_a_trained_model(setting, tmp_path):
    """truncated(n) scores like the first n passes of the full chain; with_edge_passes keeps
    the rest of the pipeline and round-trips through a checkpoint."""
    train, _, gc, _ = setting
    torch.manual_seed(2)
    four = EdgeClassifier(_cfg(gc, refine_passes=3))
    x, _, i, j, _ = edge_batch(train[0], gc, four.config)
    four.config.prune = float(np.median(four._run(x, 1)))   # untrained: prune half the edges
    for n in (1, 2, 3, 4):
        part = four.truncated(n)
        assert part.config.n_passes == n
        assert np.array_equal(part.score(x, i, j), four._scores(x, i, j, n)[0])
    assert four.truncated(1).net2 is None
    for bad in (0, 5, 2.0, True):
        with pytest.raises(ValueError, match="n_passes"):
            four.truncated(bad)
    shipped = nn.pretrained("learned_tracking")
    n = shipped.edge.config.n_passes
    ev = simulate_event(mu=20, seed=7)
    fewer = shipped.with_edge_passes(n - 1)
    assert fewer.edge.config.n_passes == n - 1 and fewer.track_filter is not None
    labels = fewer.find_tracks(ev)
    back = nn.load(nn.save(fewer, tmp_path / "fewer.pt"), expect="learned_tracking")
    assert np.array_equal(back.find_tracks(ev), labels)
    with pytest.raises(ValueError, match="n_passes"):
        shipped.with_edge_passes(n + 1)
    assert np.array_equal(shipped.with_edge_passes(n).find_tracks(ev), shipped.find_tracks(ev))


def test_cli_evaluates_fewer_passes(tmp_path, capsys):
    from helixkit.cli import main  # noqa: PLC0415

    n = nn.pretrained("learned_tracking").edge.config.n_passes
    assert main(["evaluate", "learned_tracking", "--events", "1", "--mu", "5",
                 "--edge-passes", str(n - 1), "--out", str(tmp_path)]) == 0
    assert "DM eff" in capsys.readouterr().out
    assert main(["evaluate", "learned_tracking", "--events", "1", "--mu", "5",
                 "--edge-passes", str(n + 1)]) == 2
    assert "n_passes" in capsys.readouterr().err
    assert main(["evaluate", "noise", "--edge-passes", "2"]) == 2


def test_checkpoint_without_refine_passes_loads_as_two_passes(setting, tmp_path):
    """Checkpoints written before refine_passes existed have no such key: they load as the
    two-pass classifier they are, with the same scores."""
    train, _, gc, _ = setting
    torch.manual_seed(3)
    model = EdgeClassifier(_cfg(gc))
    path = nn.save(model, tmp_path / "edge.pt")
    payload = torch.load(path, weights_only=True)
    del payload["config"]["refine_passes"]
    torch.save(payload, tmp_path / "old.pt")
    old = nn.load(tmp_path / "old.pt", expect="edge")
    assert old.config.n_passes == 2 and set(old.state_dict()) == set(model.state_dict())
    x, _, i, j, _ = edge_batch(train[0], gc, model.config)
    assert np.array_equal(old.score(x, i, j), model.score(x, i, j))


def test_grow_a_one_pass_classifier_and_stale_passes(setting):
    train, val, gc, tcfg = setting
    one = train_edge(train, val, gc, _cfg(gc, refine=False), tcfg)   # triplet_context 1
    wide = _cfg(gc, triplet_context=2, refine_passes=2)          # other second-pass inputs
    grown = train_edge(train, val, gc, wide, tcfg, init=one, stages=(2, 3))
    assert torch.equal(grown.state_dict()["net.0.weight"], one.state_dict()["net.0.weight"])
    # retraining pass 2 under a trained pass 3: pass 3 is kept, with a warning
    with pytest.warns(UserWarning, match=r"passes \[3\] are kept from init"):
        train_edge(train, val, gc, wide, tcfg, init=grown, stages=(2,))


def test_train_command_checks_the_checkpoint_passes_first(setting, tmp_path, monkeypatch):
    """A stage selection the edge checkpoint cannot serve fails before any event is made."""
    from helixkit.learned import train as learned_train  # noqa: PLC0415

    _, _, gc, _ = setting
    gc_path = nn.save(gc, tmp_path / "gc.pt")
    edge_path = nn.save(EdgeClassifier(_cfg(gc, refine=False)), tmp_path / "edge.pt")

    def no_events(*args, **kwargs):
        raise AssertionError("events were simulated before the check")

    monkeypatch.setattr(learned_train, "_events", no_events)
    cfg = {"method": "edge", "gc_checkpoint": str(gc_path), "edge_checkpoint": str(edge_path),
           "edge": {"refine_passes": 2, "k": 6, "hidden_dim": 16}, "edge_stages": [3]}
    with pytest.raises(ValueError, match=r"config.edge_stages: leaving out passes \[2\]"):
        learned_train.train_learned("edge", cfg, tmp_path / "out", progress=False)


def test_saved_bundle_keeps_a_moved_working_point(tmp_path):
    model = nn.pretrained("learned_tracking")
    model.edge.config.threshold = 0.3
    model.track_filter.config.cut = 0.2
    back = nn.load(nn.save(model, tmp_path / "lt.pt"), expect="learned_tracking")
    assert back.edge.config.threshold == 0.3 and back.track_filter.config.cut == 0.2
