"""Regression tests of issue 32: every bad input a clear error, no silent wrong answer."""

from __future__ import annotations

import importlib
import os
import stat

import numpy as np
import pytest

from helixkit import evaluation, fitting, graph
from helixkit.cli import main
from helixkit import units as u
from helixkit.data import read_trackml, simulate_event, write_trackml
from helixkit.fitting import _toy
from helixkit.seeding import HashingConfig, SeedFinderConfig, find_seeds

# ---------------------------------------------------------------- graph kernels


def test_knn_rejects_squared_distance_overflow_float32() -> None:
    x = np.array([[0.0], [1e20], [2.5e20]], dtype=np.float32)
    with pytest.raises(ValueError, match=r"x: a column spans .*overflow float32"):
        graph.knn_graph(x, 1)
    # float64 holds these squares: the answer is then right.
    ei = graph.knn_graph(x.astype(np.float64), 1)
    assert ei[0].tolist() == [1, 0, 1]


def test_radius_and_dbscan_reject_overflow() -> None:
    x = np.array([[0.0], [2e19], [6e19]], dtype=np.float32)
    with pytest.raises(ValueError, match="overflow"):
        graph.radius_graph(x, 1e18)
    with pytest.raises(ValueError, match="overflow"):
        graph.dbscan(x, eps=1e18, min_samples=1)
    with pytest.raises(ValueError, match=r"eps must be in .*float32"):
        graph.dbscan(x, eps=3e19, min_samples=1)
    big = np.array([[0.0], [1e200]])
    with pytest.raises(ValueError, match="overflow float64"):
        graph.knn_graph(big, 1)
    with pytest.raises(ValueError, match="x and query"):
        graph.knn(np.zeros((2, 1)), np.array([[1e300]]), 1)


def test_radius_graph_includes_pairs_at_exactly_r() -> None:
    scipy_spatial = pytest.importorskip("scipy.spatial")
    x = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0], [0.0, 5.0]])
    for dtype in (np.float32, np.float64):
        xs = x.astype(dtype)
        ei = graph.radius_graph(xs, 5.0)
        pairs = {(int(a), int(b)) for a, b in ei.T}
        ref = {(j, i) for i, nb in enumerate(scipy_spatial.cKDTree(xs).query_ball_point(xs, 5.0))
               for j in nb if j != i}
        assert pairs == ref
        assert (0, 1) in pairs  # distance exactly 5


def test_dbscan_eps_boundary_like_sklearn() -> None:
    cluster = pytest.importorskip("sklearn.cluster")
    x = np.array([[0.0], [1.0], [2.0], [4.0], [4.5]])
    for eps in (1.0, 0.5, 2.0):
        ours = graph.dbscan(x, eps=eps, min_samples=2)
        ref = cluster.DBSCAN(eps=eps, min_samples=2).fit_predict(x)
        assert ours.tolist() == ref.tolist()


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda x: graph.knn_graph(x, float("inf")), ValueError, "k must be a whole number"),
        (lambda x: graph.knn_graph(x, None), TypeError, "k must be an integer"),
        (lambda x: graph.knn_graph(x, 1.5), ValueError, "k must be a whole number"),
        (lambda x: graph.radius_graph(x, "1"), TypeError, "r must be a number"),
        (lambda x: graph.radius_graph(x, float("nan")), ValueError, "r must be finite"),
        (lambda x: graph.dbscan(x, 0.1, min_samples=2**32), ValueError, "min_samples"),
        (lambda x: graph.knn_graph(x, 1, n_threads=2**32), ValueError, "n_threads"),
        (lambda x: graph.knn_graph(x, 1, n_threads=1.7), ValueError, "n_threads"),
        (lambda x: graph.knn_graph(x, 1, n_threads="2"), TypeError, "n_threads"),
        (lambda x: graph.radius_graph(x, 1.0, max_num_neighbors=2**64), ValueError,
         "max_num_neighbors"),
        (lambda x: graph.radius_graph(x, 1.0, n_threads=-1), ValueError, "n_threads must be >= 0"),
    ],
)
def test_graph_scalar_arguments_named(call, exc, match) -> None:  # noqa: ANN001
    with pytest.raises(exc, match=match):
        call(np.zeros((4, 2)))


# ---------------------------------------------------------------- seeding config caps

_X = np.array([100.0, 200.0, 300.0])
_Y = np.array([0.0, 1.0, 2.0])
_Z = np.array([0.0, 10.0, 20.0])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"num_phi_neighbors": 2**30}, "numPhiNeighbors"),
        ({"phi_bin_deflection_coverage": 100000, "cot_theta_max": 0.000208, "delta_r_min": 0},
         "phiBinDeflectionCoverage"),
        ({"z_bin_edges": list(np.linspace(-2800, 2800, 2_000_000))}, "zBinEdges"),
        ({"z_min": -3e38, "z_max": 3e38}, "zMax"),
        ({"max_phi_bins": 2**31 - 1}, "maxPhiBins"),
        ({"num_phi_neighbors": 60000, "phi_bin_deflection_coverage": 500}, "numPhiNeighbors"),
    ],
)
def test_seed_finder_config_caps_grid(kwargs, field) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=field):
        SeedFinderConfig(**kwargs)


def test_seed_finder_config_large_but_sane_grid_still_runs() -> None:
    cfg = SeedFinderConfig(num_phi_neighbors=1000)  # covers the full circle: fine
    assert len(find_seeds(_X, _Y, _Z, cfg)) >= 0


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"max_seeds_per_spm": -1}, ValueError, r"max_seeds_per_spm must be an integer in \[0, "),
        ({"max_seeds_per_spm": 1.5}, ValueError, "max_seeds_per_spm must be a whole number"),
        ({"max_seeds_per_spm": None}, TypeError, "max_seeds_per_spm must be an integer"),
        ({"r_max": "600"}, TypeError, "r_max must be a number"),
        ({"num_phi_neighbors": 2**40}, ValueError, "num_phi_neighbors must be an integer in"),
        ({"seed_confirmation": "yes"}, TypeError, "seed_confirmation must be a bool"),
    ],
)
def test_seed_finder_config_field_types_named(kwargs, exc, match) -> None:  # noqa: ANN001
    with pytest.raises(exc, match=match):
        SeedFinderConfig(**kwargs)


def test_seed_finder_config_integral_float_accepted() -> None:
    assert SeedFinderConfig(max_seeds_per_spm=3.0).max_seeds_per_spm == 3


def test_hashing_config_bounds_named() -> None:
    with pytest.raises(ValueError, match="bucket_size"):
        HashingConfig(bucket_size=2**64)
    with pytest.raises(TypeError, match="bucket_size must be an integer"):
        HashingConfig(bucket_size="5")


# ---------------------------------------------------------------- fitting: no silent wrapping

_BZ = 2.0 * u.T
_RADII = (32.0, 72.0, 116.0, 172.0, 260.0)


@pytest.fixture(scope="module")
def toy_fit():  # noqa: ANN201
    t = _toy.make_toy_tracks(4, seed=3, radii=_RADII, pt_range=(2.0, 10.0))
    surf = _toy.barrel_surfaces(_RADII)
    nl = len(_RADII)
    init, st = fitting.estimate_track_params(t.xyz[0::nl], t.xyz[nl // 2::nl], t.xyz[nl - 1::nl],
                                             b_field_z=_BZ)
    assert (st == 0).all()
    return t, surf, init


def _fit(toy_fit, **kw):  # noqa: ANN001, ANN202
    t, surf, init = toy_fit
    args = {"track_offsets": t.offsets, "surface_id": t.layer, "measurement": t.local,
            "measurement_cov": t.local_cov, "initial_params": init, "b_field_z": _BZ}
    args.update(kw)
    return fitting.fit_tracks(surf, args.pop("track_offsets"), args.pop("surface_id"),
                              args.pop("measurement"), args.pop("measurement_cov"),
                              args.pop("initial_params"), **args)


def test_fit_tracks_rejects_wrapping_and_truncation(toy_fit) -> None:  # noqa: ANN001
    t = toy_fit[0]
    assert (_fit(toy_fit).status == 0).all()
    sid = t.layer.astype(np.int64)
    sid[0] = 2**32 + int(sid[0])
    with pytest.raises(ValueError, match=r"surface_id must be in \[-2147483648, 2147483647\]"):
        _fit(toy_fit, surface_id=sid)
    mask = np.full(len(t.layer), 3, dtype=np.int64)
    mask[1] = 259
    with pytest.raises(ValueError, match="measurement_mask must be in"):
        _fit(toy_fit, measurement_mask=mask)
    mask[1] = 7
    with pytest.raises(ValueError, match=r"measurement_mask\[1\] \(=7\)"):
        _fit(toy_fit, measurement_mask=mask)
    off = t.offsets.astype(np.float64)
    off[1] += 0.5
    with pytest.raises(ValueError, match="track_offsets must hold whole numbers"):
        _fit(toy_fit, track_offsets=off)
    with pytest.raises(ValueError, match="hole_surfaces must be in"):
        _fit(toy_fit, hole_surfaces=[2**32])
    with pytest.raises(ValueError, match="min_measurements must be an integer in"):
        _fit(toy_fit, min_measurements=-1)
    with pytest.raises(ValueError, match="n_threads"):
        _fit(toy_fit, n_threads=2**32)


def test_zero_field_rejected(toy_fit) -> None:  # noqa: ANN001
    t = toy_fit[0]
    with pytest.raises(ValueError, match=r"b_field_z \(=0\) must be non-zero"):
        _fit(toy_fit, b_field_z=0.0)
    with pytest.raises(ValueError, match=r"b_field_z \(=0\) must be non-zero"):
        fitting.estimate_track_params(t.xyz[0:1], t.xyz[1:2], t.xyz[2:3], b_field_z=0)
    with pytest.raises(TypeError, match="b_field_z must be a number"):
        fitting.estimate_track_params(t.xyz[0:1], t.xyz[1:2], t.xyz[2:3], b_field_z="2")


def test_surfaces_type_not_truncated() -> None:
    surf = _toy.barrel_surfaces(_RADII)
    with pytest.raises(ValueError, match="type must hold whole numbers"):
        fitting.Surfaces(surf.type.astype(float) + 0.9, surf.center, surf.rotation, surf.radius,
                         surf.bounds, surf.thickness_x0)


# ---------------------------------------------------------------- tracking metrics

_PARTICLES = {"particle_id": np.array([1, 2]), "px": np.array([2.0, 3.0]),
              "py": np.array([0.0, 0.0]), "pz": np.array([0.0, 1.0])}
_LABELS = np.array([0, 0, 0, 1, 1, 1])
_PID = np.array([1, 1, 1, 2, 2, 2])


def test_tracking_metrics_rejects_duplicated_particles() -> None:
    assert evaluation.tracking_metrics(_LABELS, _PID, _PARTICLES).double_majority == 1.0
    dup = {k: np.concatenate([v, v[:1]]) for k, v in _PARTICLES.items()}
    with pytest.raises(ValueError, match="duplicated particle_id rows .*first particle_id 1"):
        evaluation.tracking_metrics(_LABELS, _PID, dup)


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.array([0, 0, 0, 1, 1, np.nan]), "labels must hold whole numbers"),
        (np.array([0, 0, 0, 1, 1, 1.5]), "labels must hold whole numbers"),
        (np.array(["a"] * 6), "labels must be an integer array"),
    ],
)
def test_metrics_reject_non_integer_labels(labels, match) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=match):
        evaluation.tracking_metrics(labels, _PID, _PARTICLES)
    with pytest.raises(ValueError, match=match):
        evaluation.trackml_score(labels, _PID, np.full(6, 1 / 6))
    with pytest.raises(ValueError, match=match.replace("labels", "particle_id")):
        evaluation.trackml_score(_LABELS, labels, np.full(6, 1 / 6))


def test_metrics_binned_edges_checked() -> None:
    for edges in ([1.0, 0.5, 2.0], [0.5, np.nan, 2.0], [1.0]):
        with pytest.raises(ValueError, match="edges"):
            evaluation.tracking_metrics_binned(_LABELS, _PID, _PARTICLES, edges=edges)
    out = evaluation.tracking_metrics_binned(_LABELS, _PID, _PARTICLES, edges=[1.0, 2.5, 5.0])
    assert out["n_particles"].tolist() == [1.0, 1.0]


def test_quantile_width_n_sigma_checked() -> None:
    r = np.random.default_rng(0).normal(size=1000)
    assert 0.8 < evaluation.quantile_width(r, n_sigma=1.0) < 1.2
    with pytest.raises(ValueError, match="n_sigma must be > 0"):
        evaluation.quantile_width(r, n_sigma=0)
    with pytest.raises(TypeError, match="n_sigma must be a number"):
        evaluation.quantile_width(r, n_sigma="2")


# ---------------------------------------------------------------- simulation


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"vertex_sigma_z": float("inf")}, ValueError, "vertex_sigma_z must be finite"),
        ({"vertex_sigma_xy": 1e30}, ValueError, r"vertex_sigma_xy \(=1e\+30\) must be <="),
        ({"tsallis_t": float("inf")}, ValueError, "tsallis_t must be finite"),
        ({"tsallis_n": float("inf")}, ValueError, "tsallis_n must be finite"),
        ({"hard_scatter_mean_pt": float("inf")}, ValueError, "hard_scatter_mean_pt must be finite"),
        ({"secondary_mean_flight": float("inf")}, ValueError,
         "secondary_mean_flight must be finite"),
        ({"pt_max": float("inf")}, ValueError, "pt_max must be finite"),
        ({"mu": 1e12}, ValueError, r"mu \(=1000000000000.0\) times charged_per_collision"),
        ({"mu": "5"}, TypeError, "mu must be a number"),
        ({"hard_scatter": "yes"}, TypeError, "hard_scatter must be a bool"),
        ({"max_crossings": 2.5}, ValueError, "max_crossings must be a whole number"),
    ],
)
def test_simulate_event_rejects_absurd_settings(kwargs, exc, match) -> None:  # noqa: ANN001
    with pytest.raises(exc, match=match):
        simulate_event(seed=1, **kwargs)


def test_simulate_event_small_still_works() -> None:
    ev = simulate_event(mu=2, seed=1, vertex_sigma_z=100.0)
    assert len(ev.hits) > 0


# ---------------------------------------------------------------- files


@pytest.fixture
def umask_022():  # noqa: ANN201
    old = os.umask(0o022)
    yield 0o644
    os.umask(old)


def test_write_trackml_normal_permissions(tmp_path, umask_022) -> None:  # noqa: ANN001
    ev = simulate_event(mu=5, seed=2, cells=False)
    paths = write_trackml(ev, tmp_path)
    for p in paths.values():
        assert stat.S_IMODE(p.stat().st_mode) == umask_022
    os.umask(0o077)
    paths = write_trackml(ev, tmp_path / "private")
    for p in paths.values():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600


def test_write_trackml_all_or_nothing(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    old = simulate_event(mu=5, seed=2, cells=False)
    paths = write_trackml(old, tmp_path)
    before = {name: p.read_bytes() for name, p in paths.items()}
    new = simulate_event(mu=6, seed=3, cells=False)
    real_replace = os.replace
    calls = {"n": 0}

    def failing_replace(src, dst):  # noqa: ANN001, ANN202
        if str(src).endswith(".tmp"):
            calls["n"] += 1
            if calls["n"] == 2:  # the second move (truth) fails, hits is already moved
                raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_trackml(new, tmp_path)
    monkeypatch.setattr(os, "replace", real_replace)
    assert {name: p.read_bytes() for name, p in paths.items()} == before
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(p.name for p in paths.values())
    back = read_trackml(tmp_path, event_id=old.event_id)
    assert back.n_hits == old.n_hits


def test_model_checkpoint_normal_permissions(tmp_path, umask_022) -> None:  # noqa: ANN001
    pytest.importorskip("torch")
    registry = importlib.import_module("helixkit.nn.registry")
    importlib.import_module("helixkit.tokens")  # registers hit_tokenizer
    cls, cfg_cls = registry._lookup("hit_tokenizer")  # noqa: SLF001
    path = registry.save(cls(cfg_cls()), tmp_path / "m.pt")
    assert stat.S_IMODE(path.stat().st_mode) == umask_022
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".")]


# ---------------------------------------------------------------- errors that name the argument


def test_graph_metrics_float_edge_index() -> None:
    pid = np.array([1, 1, 2, 2])
    good = np.ones(4, bool)
    ok = graph.graph_metrics(np.array([[0, 2], [1, 3]]), pid, good)
    assert ok.edge_efficiency == pytest.approx(0.5)
    with pytest.raises(ValueError, match="edge_index must hold whole numbers"):
        graph.graph_metrics(np.array([[0.0, 2.0], [np.nan, 3.0]]), pid, good)
    with pytest.raises(ValueError, match="edge_index must hold whole numbers"):
        graph.graph_metrics(np.array([[0.0, 2.0], [1.5, 3.0]]), pid, good)


def test_find_tracks_and_truth_fit_argument_types() -> None:
    pytest.importorskip("torch")
    learned = importlib.import_module("helixkit.learned")
    with pytest.raises(TypeError, match="event must be a helixkit.data.Event, got dict"):
        learned.find_tracks({"hits": []})
    ev = simulate_event(mu=5, seed=2, cells=False)
    with pytest.raises(ValueError, match="eps must be > 0"):
        learned.find_tracks(ev, eps=-1)
    with pytest.raises(ValueError, match="min_samples must be a whole number"):
        learned.find_tracks(ev, min_samples=float("nan"))
    with pytest.raises(ValueError, match="min_hits must be a whole number"):
        fitting.fit_truth_tracks(ev, min_hits=float("nan"))
    with pytest.raises(TypeError, match="event must be a helixkit.data.Event"):
        fitting.fit_truth_tracks("event.csv")


# ---------------------------------------------------------------- CLI: one line, exit code 2


def _cli(capsys, *argv: str) -> tuple[int, str]:  # noqa: ANN001
    rc = main(list(argv))
    err = capsys.readouterr().err.strip().splitlines()
    return rc, err[-1] if err else ""


def test_cli_bad_config_files(tmp_path, capsys) -> None:  # noqa: ANN001
    pytest.importorskip("torch")
    (tmp_path / "epochs.json").write_text('{"train": {"epochs": "5"}}')
    (tmp_path / "lr.json").write_text('{"train": {"lr": null}}')
    (tmp_path / "bin.json").write_bytes(b"\x00\xff\xfe\x80binary")
    (tmp_path / "dir.json").mkdir()
    cases = {
        "epochs.json": "epochs must be an integer, got str '5'",
        "lr.json": "lr must be a number, got NoneType None",
        "bin.json": "bin.json is not UTF-8 text",
        "dir.json": "dir.json is a directory",
    }
    for name, expected in cases.items():
        rc, line = _cli(capsys, "train", "trackformer", "--config", str(tmp_path / name),
                        "--out", str(tmp_path / "out"))
        assert rc == 2, name
        assert line.startswith("helixkit train: error:") and expected in line, line


def test_cli_bad_out_mu_and_checkpoint(tmp_path, capsys) -> None:  # noqa: ANN001
    pytest.importorskip("torch")
    afile = tmp_path / "afile"
    afile.write_text("x")
    rc, line = _cli(capsys, "simulate", "--out", str(afile), "--events", "1", "--mu", "2")
    assert rc == 2 and "afile" in line and line.startswith("helixkit simulate: error:")
    rc, line = _cli(capsys, "simulate", "--out", str(tmp_path / "o"), "--events", "1",
                    "--mu", "1e12")
    assert rc == 2 and "mu" in line
    rc, line = _cli(capsys, "evaluate", "trackformer", "--checkpoint", str(tmp_path / "nope.pt"),
                    "--out", str(tmp_path / "o3"))
    assert rc == 2 and "nope.pt" in line
