"""The optional scikit-hep stack (helixkit._hep): boost-histogram and numpy give the same
binned numbers (edges, under/overflow, NaN and inf included), the metrics built on them are
unchanged, and the plots draw with mplhep and without it."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest

from helixkit import _hep
from helixkit.deepcore.evaluate import PT_BINS, MethodResult, efficiency_counts, efficiency_curve
from helixkit.deepcore.plots import plot_efficiencies
from helixkit.evaluation import (
    labels_to_tracks,
    track_finding_metrics,
    tracking_metrics,
    tracking_metrics_binned,
)
from helixkit.evaluation.track_finding import DEFAULT_ETA_EDGES as TF_ETA
from helixkit.evaluation.track_finding import DEFAULT_PT_EDGES as TF_PT
from helixkit.finding.plots import plot_track_finding
from helixkit.plots import pyplot
from helixkit.seeding.metrics import DEFAULT_ETA_EDGES, DEFAULT_PT_EDGES, seeding_metrics
from helixkit.seeding.plots import plot_seeding_performance

bh = pytest.importorskip("boost_histogram")  # the test extra installs it: CI runs both paths

EDGES = np.array([-2.0, -0.5, 0.0, 0.1, 1.0, 3.0])
#: every kind of value a bin boundary can meet
AWKWARD = np.array([-2.0, -0.5, 0.0, 0.1, 1.0, 3.0,          # exactly on each edge
                    np.nextafter(-2.0, -3), np.nextafter(3.0, 4), np.nextafter(0.1, 0),
                    -2.5, 3.5, 1e300, -1e300, np.inf, -np.inf, np.nan, np.nan, 0.05, 2.9])


@pytest.fixture
def numpy_path(monkeypatch):
    """Runs the test body with the scikit-hep stack switched off (as if not installed)."""
    monkeypatch.setattr(_hep, "boost_histogram", lambda: None)
    monkeypatch.setattr(_hep, "mplhep", lambda: None)


def both(fn, monkeypatch):
    """fn() with boost-histogram / mplhep, then fn() with the numpy / matplotlib fallback."""
    with_hep = fn()
    with monkeypatch.context() as m:
        m.setattr(_hep, "boost_histogram", lambda: None)
        m.setattr(_hep, "mplhep", lambda: None)
        without = fn()
    return with_hep, without


def brute_counts(values, edges, weights=None, last_closed=False):
    """The definition, one bin at a time: [e_i, e_i+1), the last bin closed on request."""
    v = np.asarray(values, float)
    w = np.ones(len(v)) if weights is None else np.asarray(weights, float)
    out = []
    for i in range(len(edges) - 1):
        hi_ok = v <= edges[i + 1] if last_closed and i == len(edges) - 2 else v < edges[i + 1]
        out.append(w[(v >= edges[i]) & hi_ok].sum())
    return np.array(out)


@pytest.mark.parametrize("last_closed", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_bin_counts_both_paths_equal_the_definition(monkeypatch, last_closed, weighted):
    rng = np.random.default_rng(3)
    v = np.r_[AWKWARD, rng.uniform(-3, 4, 500)]
    w = rng.integers(0, 5, len(v)) * 0.5 if weighted else None
    hep, plain = both(lambda: _hep.bin_counts(v, EDGES, w, last_closed=last_closed),
                      monkeypatch)
    ref = brute_counts(v, EDGES, w, last_closed)
    assert hep.dtype == plain.dtype == (np.float64 if weighted else np.int64)
    np.testing.assert_array_equal(hep, ref)
    np.testing.assert_array_equal(plain, ref)
    # the edge values: bin i holds edges[i]; the last edge is overflow unless closed
    first = _hep.bin_counts(AWKWARD[:6], EDGES, last_closed=last_closed)
    np.testing.assert_array_equal(first, [1, 1, 1, 1, 1 + last_closed])


def test_numpy_histogram_convention_and_density(monkeypatch):
    rng = np.random.default_rng(5)
    v = np.r_[rng.normal(0, 1.5, 3000), [-5.0, 5.0, 6.0, np.nan]]
    edges = np.linspace(-5, 5, 61)
    ref, _ = np.histogram(v[np.isfinite(v)], edges)
    dens, _ = np.histogram(v[np.isfinite(v)], edges, density=True)
    for counts in both(lambda: _hep.bin_counts(v, edges, last_closed=True), monkeypatch):
        np.testing.assert_array_equal(counts, ref)
        np.testing.assert_allclose(_hep.density(counts, edges), dens, rtol=1e-15)
    np.testing.assert_array_equal(_hep.density(np.zeros(3), [0, 1, 2, 3]), np.zeros(3))


def test_pass_total_and_bad_input():
    v = np.array([0.0, 0.5, 1.0, 1.5, 2.0, np.nan])
    passed = np.array([True, False, True, True, False, True])
    k, n = _hep.pass_total(v, passed, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(n, [2, 2])
    np.testing.assert_array_equal(k, [1, 2])
    for bad in ([1.0], [0.0, 0.0, 1.0], [2.0, 1.0], [[0.0, 1.0]], [0.0, np.nan]):
        with pytest.raises(ValueError, match="my_edges"):
            _hep.bin_counts(v, bad, name="my_edges")
    with pytest.raises(ValueError, match="weights"):
        _hep.bin_counts(v, [0.0, 1.0], np.ones(2))
    with pytest.raises(ValueError, match="passed"):
        _hep.pass_total(v, passed[:2], [0.0, 1.0])


# --- the metrics built on them: the same numbers with and without the stack -------------------


def _particles(rng, extra_pt=(), extra_eta=()):
    pt = np.r_[DEFAULT_PT_EDGES, TF_PT, extra_pt, [0.0, 99.999, 100.0, 150.0],
               rng.uniform(0.1, 120, 300)]
    eta = rng.uniform(-4.5, 4.5, len(pt))
    eta[: len(DEFAULT_ETA_EDGES)] = DEFAULT_ETA_EDGES
    eta[-len(TF_ETA):] = TF_ETA
    phi = rng.uniform(-np.pi, np.pi, len(pt))
    return {"particle_id": np.arange(1, len(pt) + 1, dtype=np.int64) * 7,
            "px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta),
            "q": rng.choice([-1, 0, 1], len(pt), p=[0.45, 0.1, 0.45])}


@pytest.fixture
def sample():
    """Particles with pT / η exactly on the metrics' bin edges, hits, seeds and tracks."""
    rng = np.random.default_rng(7)
    parts = _particles(rng)
    n_h = 5000
    pid = parts["particle_id"]
    hit_pid = np.where(rng.random(n_h) < 0.1, 0, pid[rng.integers(0, len(pid), n_h)])
    trip = rng.integers(0, n_h, (2000, 3))
    for i in range(0, 2000, 2):  # half of them true seeds
        rows = np.flatnonzero(hit_pid == hit_pid[rng.integers(0, n_h)])
        if hit_pid[rows[0]] and len(rows) >= 3:
            trip[i] = rng.choice(rows, 3, replace=False)
    xyz = tuple(rng.uniform(-1000, 1000, n_h) for _ in range(3))
    xyz[0][:4] = xyz[1][:4] = 0.0  # seeds with dr = 0: NaN seed eta
    trip[:2] = [[0, 1, 2], [1, 2, 3]]
    lab = np.where(rng.random(n_h) < 0.15, -1, np.searchsorted(np.unique(hit_pid), hit_pid))
    split = (lab >= 0) & (lab % 3 == 0) & (np.arange(n_h) % 2 == 1)
    lab = np.where(split, lab + 10_000, lab)  # duplicates
    n_t = len(np.unique(lab[lab >= 0]))
    tpt = rng.uniform(0.3, 120, n_t)
    tpt[: len(TF_PT)] = TF_PT
    tpt[len(TF_PT)] = np.nan
    teta = rng.uniform(-3.5, 3.5, n_t)
    teta[: len(TF_ETA)] = TF_ETA
    return {"parts": parts, "hit_pid": hit_pid, "trip": trip, "xyz": xyz, "lab": lab,
            "tpt": tpt, "teta": teta, "sel": rng.random(len(pid)) < 0.8,
            "key": rng.integers(0, 12, n_h)}


def _arrays(obj) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in obj.items()}


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_seeding_metrics_same_with_and_without_hist(sample, monkeypatch):
    def run():
        m = seeding_metrics(sample["trip"], sample["hit_pid"], sample["parts"], sample["sel"],
                            sp_xyz=sample["xyz"], b_field_z=2 * 0.000299792458)
        return {f"{var}.{f}": np.asarray(getattr(b, f)) for var, b in m.binned.items()
                for f in ("n_selected", "n_matched", "efficiency", "duplication_rate",
                          "fraction_duplicated", "n_seeds", "fake_rate")}
    hep, plain = both(run, monkeypatch)
    _same(hep, plain)
    # and they are the counts of their definition
    pt = np.hypot(sample["parts"]["px"], sample["parts"]["py"])
    np.testing.assert_array_equal(hep["pt.n_selected"],
                                  brute_counts(pt[sample["sel"]], DEFAULT_PT_EDGES))
    assert np.isfinite(hep["pt.fake_rate"]).any() and np.isfinite(hep["eta.fake_rate"]).any()


def test_track_finding_metrics_same_with_and_without_hist(sample, monkeypatch):
    off, h = labels_to_tracks(sample["lab"])

    def run():
        out = {}
        for kind, kw in (("particle", {}), ("track", {"track_pt": sample["tpt"],
                                                      "track_eta": sample["teta"]})):
            m = track_finding_metrics(off, h, sample["hit_pid"], sample["parts"], min_hits=3,
                                      **kw)
            out.update({f"{kind}.{var}.{k}": np.asarray(v) for var, b in m.binned.items()
                        for k, v in b.items()})
        return out
    hep, plain = both(run, monkeypatch)
    _same(hep, plain)
    for var in ("pt", "eta"):
        b = {k.split(".", 2)[2]: v for k, v in hep.items() if k.startswith(f"track.{var}.")}
        assert b["n_duplicate"].sum() > 0 and b["n_fake"].sum() > 0
        np.testing.assert_array_equal(b["fake_rate"] * (b["n_tracks"] > 0),
                                      np.divide(b["n_fake"], b["n_tracks"],
                                                out=np.zeros(len(b["n_tracks"])),
                                                where=b["n_tracks"] > 0))
    with pytest.raises(ValueError, match="pt_edges"):
        track_finding_metrics(off, h, sample["hit_pid"], sample["parts"], pt_edges=[5.0, 1.0])


@pytest.mark.parametrize("variable", ["pt", "eta"])
def test_tracking_metrics_binned_is_the_per_bin_loop(sample, monkeypatch, variable):
    """One pass with histograms gives what tracking_metrics gives bin by bin (the old
    implementation), on both paths; particles sit exactly on the edges."""
    edges = TF_PT if variable == "pt" else TF_ETA
    other = {"eta_range": (-1.0, 1.5)} if variable == "pt" else {"pt_range": (1.0, 10.0)}
    for kw in ({}, {"layer_key": sample["key"], "pt_thld": 0.0}, other):
        def run(kw=kw):
            return tracking_metrics_binned(sample["lab"], sample["hit_pid"], sample["parts"],
                                           variable=variable, edges=edges, **kw)
        hep, plain = both(run, monkeypatch)
        _same(_arrays(hep), _arrays(plain))
        key = "pt_range" if variable == "pt" else "eta_range"
        loop = [tracking_metrics(sample["lab"], sample["hit_pid"], sample["parts"],
                                 **{key: (lo, hi)}, **kw) for lo, hi in itertools.pairwise(edges)]
        for f in ("n_particles", "perfect", "double_majority", "lhc"):
            np.testing.assert_array_equal(hep[f], [getattr(r, f) for r in loop], err_msg=f)
        assert hep["n_particles"].sum() > 0 and hep["double_majority"].max() > 0
    with pytest.raises(TypeError, match="pt_range" if variable == "pt" else "eta_range"):
        tracking_metrics_binned(sample["lab"], sample["hit_pid"], sample["parts"],
                                variable=variable, **{key: (0.0, 1.0)})
    with pytest.raises(TypeError, match="min_hitz"):
        tracking_metrics_binned(sample["lab"], sample["hit_pid"], sample["parts"],
                                variable=variable, min_hitz=3)


def test_deepcore_efficiency_keeps_numpy_histogram_bins(monkeypatch):
    rng = np.random.default_rng(11)
    v = np.r_[PT_BINS, [0.5, 2000.0, 2500.0, np.nan], rng.uniform(0.5, 2500, 400)]
    found = rng.random(len(v)) < 0.7
    res = MethodResult(found, v, v * 0, v * 0, 0, 0, 0, 0.0)
    hep, plain = both(lambda: efficiency_counts(res, "pt", PT_BINS), monkeypatch)
    ref = (np.histogram(v[found], PT_BINS)[0], np.histogram(v, PT_BINS)[0])  # NaN: not binned
    for k, n in (hep, plain):
        np.testing.assert_array_equal(k, ref[0])
        np.testing.assert_array_equal(n, ref[1])
    _, eff, err = efficiency_curve(res, "pt", PT_BINS)
    np.testing.assert_array_equal(eff, ref[0] / ref[1])
    assert np.all(err >= 0)


# --- drawing ---------------------------------------------------------------------------------


def test_draw_points_same_positions_with_and_without_mplhep(monkeypatch):
    pytest.importorskip("mplhep")
    plt = pyplot()
    edges = np.array([0.0, 1.0, 2.0, 4.0])
    ys = [np.array([0.5, np.nan, 0.9]), np.array([0.2, 0.4, 0.6]), np.full(3, np.nan)]
    errs = [np.full((2, 3), 0.05)] * 3

    def run():
        with _hep.style():
            fig, ax = plt.subplots()
            n = _hep.draw_points(ax, edges, ys, errs, labels=["a", "b", "c"])
            pts = [ln.get_xydata() for ln in ax.get_lines() if ln.get_marker() not in ("", None)]
            labels = ax.get_legend_handles_labels()[1]
            plt.close(fig)
        return n, [p[np.isfinite(p[:, 1])] for p in pts], labels
    (n1, pts1, lab1), (n2, pts2, lab2) = both(run, monkeypatch)
    assert n1 == n2 == 2 and lab1 == lab2 == ["a", "b"]  # the all-NaN series is skipped
    for p, q in zip(pts1, pts2, strict=True):
        np.testing.assert_allclose(p, q)
    # two series: at 1/3 and 2/3 of each bin
    np.testing.assert_allclose(pts1[1][:, 0], edges[:-1] + np.diff(edges) * 2 / 3)


def test_style_is_local_and_neutral():
    mplhep = pytest.importorskip("mplhep")
    mpl = pytest.importorskip("matplotlib")
    before = dict(mpl.rcParams)
    with _hep.style():
        assert mpl.rcParams["xtick.direction"] == mplhep.style.plothist["xtick.direction"]
    assert dict(mpl.rcParams) == before
    assert "ATLAS" not in _hep.LABEL and "CMS" not in _hep.LABEL


@pytest.mark.parametrize("hep", [True, False], ids=["mplhep", "matplotlib"])
def test_plots_render_on_both_paths(sample, tmp_path, monkeypatch, hep):
    if hep:
        pytest.importorskip("mplhep")
    else:
        monkeypatch.setattr(_hep, "boost_histogram", lambda: None)
        monkeypatch.setattr(_hep, "mplhep", lambda: None)
    m = seeding_metrics(sample["trip"], sample["hit_pid"], sample["parts"], sample["sel"],
                        sp_xyz=sample["xyz"], b_field_z=2 * 0.000299792458)
    off, h = labels_to_tracks(sample["lab"])
    tf = track_finding_metrics(off, h, sample["hit_pid"], sample["parts"], min_hits=3)
    rng = np.random.default_rng(2)
    v = rng.uniform(1, 1000, 300)
    res = MethodResult(rng.random(300) < 0.8, v, rng.uniform(0, 0.1, 300),
                       rng.uniform(600, 2900, 300), 0, 0, 0, 0.0)
    paths = [plot_seeding_performance({"a": m, "b": m}, tmp_path / "seeding.png", caption="x"),
             plot_track_finding({"a": tf}, tmp_path / "tracking.png", title="t"),
             plot_efficiencies({"standard": res, "deepcore": res}, tmp_path / "dc.png")]
    for p in paths:
        assert p.read_bytes()[:4] == b"\x89PNG"
        assert p.stat().st_size > 20_000


def test_import_stays_light():
    """Importing the metrics loads neither boost-histogram nor mplhep (first use does)."""
    code = ("import sys, helixkit.evaluation, helixkit.seeding, helixkit.deepcore.evaluate\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'boost_histogram', 'hist', 'mplhep', 'matplotlib'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_works_when_the_stack_is_not_installed(tmp_path):
    """With boost_histogram / mplhep unimportable (as without the extra), the loaders give
    None, the metrics use numpy and the plots plain matplotlib."""
    code = f"""
import sys
sys.modules["boost_histogram"] = None  # import raises ImportError, as if not installed
sys.modules["mplhep"] = None
import numpy as np
from helixkit import _hep
from helixkit.seeding.metrics import seeding_metrics
from helixkit.seeding.plots import plot_seeding_performance
assert _hep.boost_histogram() is None and _hep.mplhep() is None
rng = np.random.default_rng(0)
pid = rng.integers(1, 20, 300)
parts = {{"particle_id": np.arange(1, 20), "px": rng.normal(0, 2, 19), "py": rng.normal(0, 2, 19),
          "pz": rng.normal(0, 5, 19)}}
m = seeding_metrics(rng.integers(0, 300, (200, 3)), pid, parts)
print(m.binned["pt"].n_selected.tolist(), m.binned["eta"].n_matched.tolist())
plot_seeding_performance(m, {str(tmp_path / "s.png")!r})
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    with_hist = subprocess.run([sys.executable, "-c", code.replace(
        'sys.modules["boost_histogram"] = None', "").replace(
        "assert _hep.boost_histogram() is None and", "assert")], capture_output=True, text=True,
        check=True)
    assert out.stdout == with_hist.stdout  # the same counts either way
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
