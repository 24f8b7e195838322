"""Tests of hashing seeding's density rule: HashingConfig.for_density, choose_seeding,
hashing_config="auto" and find_seeds_auto_in_event (docs/hashing.md, "Choosing by density")."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helixkit import seeding
from helixkit.data import Event, Table
from helixkit.seeding._toy import toy_event
from helixkit.seeding.hashing import (
    HASHING_MIN_SPACE_POINTS,
    HashingConfig,
    SeedingChoice,
    build_buckets,
    choose_seeding,
    find_seeds_auto_in_event,
    find_seeds_hashing,
    find_seeds_hashing_in_event,
)


def _event(n_particles: int, seed: int, n_strip: int = 0, shift_r: float = 0.0) -> Event:
    """A toy pixel event (volume 8) plus ``n_strip`` hits in a non-seeding volume 13;
    ``shift_r`` moves every pixel hit outwards (an empty query layer)."""
    t = toy_event(n_particles, seed=seed)
    x, y, z = (np.asarray(t[c], np.float64) for c in "xyz")
    if shift_r:
        r = np.hypot(x, y)
        x, y = x * (r + shift_r) / r, y * (r + shift_r) / r
    rng = np.random.default_rng(seed)
    phi = rng.uniform(-np.pi, np.pi, n_strip)
    xs, ys = 500 * np.cos(phi), 500 * np.sin(phi)
    zs = rng.uniform(-1000, 1000, n_strip)
    n = len(x) + n_strip
    hits = Table({
        "hit_id": np.arange(n, dtype=np.int64),
        "x": np.concatenate([x, xs]).astype(np.float32),
        "y": np.concatenate([y, ys]).astype(np.float32),
        "z": np.concatenate([z, zs]).astype(np.float32),
        "volume_id": np.concatenate([np.full(len(x), 8), np.full(n_strip, 13)]).astype(np.int32),
        "layer_id": np.concatenate([t["layer"], np.zeros(n_strip)]).astype(np.int32),
        "module_id": np.zeros(n, dtype=np.int32),
    }, name="hits")
    return Event(hits=hits)


@pytest.fixture(scope="module")
def dense():
    return _event(2500, seed=11, n_strip=6000)  # 11.4k pixel hits: the hashing side


@pytest.fixture(scope="module")
def sparse():
    return _event(400, seed=12, n_strip=500)    # 1.8k pixel hits: the standard side


@pytest.fixture(scope="module")
def odd1():
    return seeding.SeedFinderConfig.acts_odd(max_seeds_per_spm=1)


def _n_pixel(ev: Event) -> int:
    return int(np.isin(ev.hits["volume_id"], (7, 8, 9)).sum())


# --------------------------------------------------------------------------- the rule
def test_for_density_is_the_documented_rule_and_monotonic():
    ns = [0, 1, 100, 204, 205, 1_000, 5_000, 9_000, 10_271, 25_611, 51_324, 200_000, 10**7]
    cfgs = [HashingConfig.for_density(n) for n in ns]
    sizes = [c.bucket_size for c in cfgs]
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]          # grows with N
    assert all(c.phi_bins == 400 and c.metric == "phi" for c in cfgs)
    for n, c in zip(ns, cfgs, strict=True):
        assert c.bucket_size == max(10, round(0.7 * math.sqrt(n)))
    # the window fraction bucket_size / N narrows as the event gets denser
    frac = [c.bucket_size / n for n, c in zip(ns, cfgs, strict=True) if n >= 1_000]
    assert frac == sorted(frac, reverse=True) and frac[0] > frac[-1]
    # defaults of the other fields kept; overrides win, also over the rule's own fields
    c = HashingConfig.for_density(10_000, index="exact", phi_bins=123)
    assert (c.index, c.phi_bins, c.bucket_size, c.z_bins) == ("exact", 123, 70, 0)
    assert HashingConfig.for_density(np.int64(10_000)) == HashingConfig.for_density(10_000)
    assert HashingConfig.for_density(10_000.0) == HashingConfig.for_density(10_000)


@pytest.mark.parametrize("bad", ["1000", None, [1000], True, np.bool_(True)])
def test_for_density_wrong_type_names_the_argument(bad):
    with pytest.raises(TypeError, match="n_space_points"):
        HashingConfig.for_density(bad)


@pytest.mark.parametrize("bad", [-1, -10**6, float("nan"), float("inf"), 1.5])
def test_for_density_bad_value_names_the_argument(bad):
    with pytest.raises(ValueError, match="n_space_points"):
        HashingConfig.for_density(bad)


def test_for_density_bad_override():
    with pytest.raises(TypeError, match="no field 'bucket'"):
        HashingConfig.for_density(1000, bucket=3)
    with pytest.raises(ValueError, match="phi_bins"):     # the config's own validation
        HashingConfig.for_density(1000, phi_bins=0)


# --------------------------------------------------------------------------- the choice
def test_choose_seeding_at_the_extremes_and_the_threshold():
    lo = choose_seeding(0)
    assert isinstance(lo, SeedingChoice)
    assert (lo.method, lo.hashing_config, lo.n_space_points, lo.n_query) == ("standard", None, 0, None)
    assert "standard" in lo.reason and "9,000" in lo.reason and "\n" not in lo.reason
    hi = choose_seeding(10**7)
    assert hi.method == "hashing" and hi.hashing_config == HashingConfig.for_density(10**7)
    assert str(hi.hashing_config.bucket_size) in hi.reason and "\n" not in hi.reason
    t = HASHING_MIN_SPACE_POINTS
    assert choose_seeding(t - 1).method == "standard"
    assert choose_seeding(t).method == "hashing"
    # the decision is monotonic in N
    methods = [choose_seeding(n).method for n in range(0, 4 * t, 997)]
    assert methods == sorted(methods, key=lambda m: m == "hashing")
    # another threshold, and overrides reaching the config
    assert choose_seeding(100, min_space_points=0).method == "hashing"
    assert choose_seeding(10**6, min_space_points=10**7).method == "standard"
    assert choose_seeding(20_000, index="exact").hashing_config.index == "exact"


@pytest.mark.parametrize(("args", "kwargs", "exc", "match"), [
    (("many",), {}, TypeError, "event_or_n"),
    ((None,), {}, TypeError, "event_or_n"),
    ((True,), {}, TypeError, "event_or_n"),
    ((-1,), {}, ValueError, "n_space_points"),
    ((float("nan"),), {}, ValueError, "n_space_points"),
    ((2.5,), {}, ValueError, "n_space_points"),
    ((1000,), {"min_space_points": -1}, ValueError, "min_space_points"),
    ((1000,), {"min_space_points": 1.5}, ValueError, "min_space_points"),
    ((1000,), {"min_space_points": "9k"}, TypeError, "min_space_points"),
    ((20_000,), {"bucket": 3}, TypeError, "bucket"),
])
def test_choose_seeding_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        choose_seeding(*args, **kwargs)


def test_choose_seeding_on_events_counts_the_seeding_volumes(dense, sparse):
    n = _n_pixel(dense)
    assert n >= HASHING_MIN_SPACE_POINTS > _n_pixel(sparse)
    assert n + 6000 == dense.n_hits
    ch = choose_seeding(dense)
    assert ch.method == "hashing" and ch.n_space_points == n and ch.n_query > 0
    assert ch.hashing_config == HashingConfig.for_density(n)
    assert choose_seeding(sparse).method == "standard"
    # all volumes counted: the strip hits push the sparse event over a lower threshold
    assert choose_seeding(sparse, volumes=None).n_space_points == sparse.n_hits
    # no seeding volume at all: standard
    assert choose_seeding(dense, volumes=(99,)).method == "standard"


def test_choose_seeding_empty_query_layer_is_standard():
    ev = _event(2500, seed=13, shift_r=20.0)  # r >= 52 mm: nothing in r in [25, 40] mm
    assert _n_pixel(ev) >= HASHING_MIN_SPACE_POINTS
    ch = choose_seeding(ev)
    assert (ch.method, ch.n_query) == ("standard", 0) and "query layer" in ch.reason
    # the same event with a query layer that holds hits: hashing
    assert choose_seeding(ev, layer_r_min=45.0, layer_r_max=60.0).method == "hashing"


# --------------------------------------------------------------------------- "auto"
def _same(a, b):
    np.testing.assert_array_equal(a.triplets, b.triplets)
    np.testing.assert_array_equal(a.z_vertex, b.z_vertex)
    np.testing.assert_array_equal(a.quality, b.quality)


def test_auto_gives_the_seeds_of_the_rules_config(dense, odd1):
    rows = np.flatnonzero(np.isin(dense.hits["volume_id"], (7, 8, 9)))
    x, y, z = (dense.hits[c][rows] for c in "xyz")
    rule = HashingConfig.for_density(len(rows))
    auto = find_seeds_hashing(x, y, z, odd1, "auto", 1)
    explicit = find_seeds_hashing(x, y, z, odd1, rule, 1)
    assert len(auto) > 0
    _same(auto, explicit)
    # not the default config's seeds (the rule changes something)
    assert rule != HashingConfig()
    assert len(find_seeds_hashing(x, y, z, odd1, None, 1)) != len(auto)
    # in an event: N = the hits in the seeding volumes, not all hits
    ev_auto = find_seeds_hashing_in_event(dense, odd1, "auto", 1)
    _same(ev_auto, find_seeds_hashing_in_event(dense, odd1, rule, 1))
    assert HashingConfig.for_density(dense.n_hits) != rule
    np.testing.assert_array_equal(ev_auto.triplets, rows[auto.triplets])
    b = build_buckets(x, y, z, "auto", n_threads=1)
    np.testing.assert_array_equal(b.indices, auto.buckets.indices)


@pytest.mark.parametrize("bad", ["Auto", "fast", ""])
def test_auto_misspelt(dense, odd1, bad):
    x, y, z = (dense.hits[c][:100] for c in "xyz")
    with pytest.raises(ValueError, match="hashing_config"):
        find_seeds_hashing(x, y, z, odd1, bad, 1)


def test_find_seeds_auto_in_event_follows_the_choice(dense, sparse, odd1):
    odd5 = seeding.SeedFinderConfig.acts_odd(max_seeds_per_spm=5)
    res, ch = find_seeds_auto_in_event(sparse, odd1, 1)
    assert ch.method == "standard" and len(res) > 0
    _same(res, seeding.find_seeds_in_event(sparse, odd1, n_threads=1))
    res5, _ = find_seeds_auto_in_event(sparse, odd1, 1, standard_config=odd5)
    _same(res5, seeding.find_seeds_in_event(sparse, odd5, n_threads=1))
    assert len(res5) > len(res)
    res, ch = find_seeds_auto_in_event(dense, odd1, 1, standard_config=odd5)
    assert ch.method == "hashing" and isinstance(res, seeding.HashingResult)
    _same(res, find_seeds_hashing_in_event(dense, odd1, "auto", 1))
    # the threshold argument reaches the decision
    res, ch = find_seeds_auto_in_event(dense, odd1, 1, min_space_points=10**6)
    assert ch.method == "standard"
    _same(res, seeding.find_seeds_in_event(dense, odd1, n_threads=1))


# --------------------------------------------------------------------------- study / demo
def test_study_auto_rows(tmp_path):
    from helixkit.seeding import hashing_study

    rows = hashing_study.run_study(
        tmp_path, n_events=1, mu=4, bucket_sizes=(20,), phi_bins=(10,), metrics=("phi",),
        index="exact", standard_max_seeds=(1,), repeats=1, plots=False, auto=True,
    )
    assert [r["method"] for r in rows] == ["standard", "hashing", "hashing (rule)", "auto"]
    rule, auto = rows[2], rows[3]
    n = round(hashing_study._prepare(1, 4, 0)[0]["x"].size)
    assert rule["bucket_size"] == HashingConfig.for_density(n).bucket_size
    assert rule["phi_bins"] == 400
    # a <mu> = 4 event is sparse: the choice is standard seeding, i.e. the standard row's seeds
    assert auto["choices"][0]["method"] == "standard"
    assert auto["seeds_per_event"] == rows[0]["seeds_per_event"]
    assert auto["efficiency"] == rows[0]["efficiency"]
    md = (tmp_path / "hashing_study.md").read_text()
    assert "| hashing (rule) | 1 | phi |" in md
    assert "choose_seeding, per event" in md and "space points < 9,000" in md
    parser = __import__("argparse").ArgumentParser()
    hashing_study.register(parser.add_subparsers())
    assert parser.parse_args(["hashing"]).auto is True
    assert parser.parse_args(["hashing", "--no-auto"]).auto is False


@pytest.mark.parametrize("given", [None, "auto"])
def test_demo_stage_reports_the_choice_and_runs_the_rule_when_asked(demo_report, given):
    from helixkit.data import simulate_event
    from helixkit.seeding.hashing_study import demo_stage

    ev = simulate_event(mu=4, seed=1)
    rep = demo_report
    demo_stage([ev], rep, n_threads=1, seed=0, hashing_config=given)
    res = rep.results["hashing"]
    n = int(np.isin(ev.hits["volume_id"], ev.geometry.pixel_volumes).sum())
    assert res["choice"][0]["method"] == choose_seeding(n).method == "standard"
    assert "choose_seeding" in rep.tables[0][0]
    # default: the demo's fixed config (the rule is calibrated on ACTS Fatras events)
    cfg = HashingConfig.for_density(n) if given == "auto" else HashingConfig(bucket_size=100,
                                                                           phi_bins=100)
    assert res["hashing_config"]["bucket_size"] == cfg.bucket_size
    assert ("density rule" in rep.tables[0][0]) == (given == "auto")
    ref = find_seeds_hashing_in_event(ev, seeding.SeedFinderConfig.acts_odd(max_seeds_per_spm=1),
                                      given or cfg, 1, volumes=ev.geometry.pixel_volumes)
    assert res["hashing m=1"]["n_seeds"] == len(ref)
