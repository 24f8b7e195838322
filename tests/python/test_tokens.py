"""Hit tokeniser: vector quantiser mechanics, the model's API, training, metrics, bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helixkit.data import Event, Table, generate_events  # noqa: E402
from helixkit.nn import registry  # noqa: E402
from helixkit.tokens import (  # noqa: E402
    HitTokenizer,
    HitTokenizerConfig,
    ResidualQuantizer,
    evaluate_hit_tokenizer,
    hit_sample,
    kmeans,
    layer_index,
    nearest_code,
    tokenizer_metrics,
    track_order,
    train_hit_tokenizer,
)


def test_nearest_code_is_the_brute_force_argmin():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3000, 5, generator=g)
    c = torch.randn(257, 5, generator=g)
    ref = torch.cdist(x.double(), c.double()).argmin(1)
    assert torch.equal(nearest_code(x, c, chunk=700), ref)


def test_kmeans_finds_separated_clusters():
    g = torch.Generator().manual_seed(1)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = torch.cat([c + 0.1 * torch.randn(400, 2, generator=g) for c in centres])
    cent, counts = kmeans(x, 3, generator=g, iters=15)
    d = torch.cdist(centres, cent).min(1).values
    assert d.max() < 0.05
    assert sorted(counts.tolist()) == [400, 400, 400]


def _quantizer(levels=2, size=16, dim=3, **kw):
    return ResidualQuantizer(levels, size, dim, decay=kw.get("decay", 0.9),
                             dead_fraction=kw.get("dead_fraction", 0.0),
                             restart_every=kw.get("restart_every", 1000))


def test_straight_through_and_commitment():
    q = _quantizer()
    z = torch.randn(500, 3, requires_grad=True)
    q.train()
    zq, codes, commit = q(z)
    assert codes.shape == (500, 2) and bool(q.initialised)
    # the value is the sum of the chosen codes ...
    assert torch.allclose(zq.detach(), q.lookup(codes), atol=1e-6)
    # ... the gradient passes unchanged
    zq.sum().backward()
    assert torch.allclose(z.grad, torch.ones_like(z))
    assert float(commit.detach()) == pytest.approx(float(((z - zq) ** 2).sum(1).mean().detach()),
                                                   rel=1e-5)


def test_more_levels_quantise_finer():
    g = torch.Generator().manual_seed(2)
    z = torch.randn(4000, 3, generator=g)
    errs = []
    for levels in (1, 2, 3):
        q = _quantizer(levels=levels, size=32)
        q.initialise(z, generator=torch.Generator().manual_seed(3))
        q.eval()
        zq, _, _ = q(z)
        errs.append(float(((z - zq) ** 2).sum(1).mean()))
    assert errs[0] > 2 * errs[1] > 4 * errs[2]


def test_ema_moves_codes_to_their_data_and_dead_codes_restart():
    q = _quantizer(levels=1, size=4, dim=2, decay=0.5, restart_every=5)
    q.codebook[0] = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [100.0, 100.0]])
    q.ema_count[0] = 1.0
    q.ema_sum[0] = q.codebook[0].clone()
    q.initialised.fill_(True)
    q.train()
    g = torch.Generator().manual_seed(4)
    data = torch.cat([torch.tensor([[0.2, 0.1]]) + 0.01 * torch.randn(50, 2, generator=g),
                      torch.tensor([[1.3, 0.0]]) + 0.01 * torch.randn(50, 2, generator=g),
                      torch.tensor([[0.0, 0.8]]) + 0.01 * torch.randn(50, 2, generator=g)])
    for _ in range(4):
        q(data)
    # EMA: the used codes move to the means of their points
    assert torch.allclose(q.codebook[0, 0], torch.tensor([0.2, 0.1]), atol=0.1)
    assert torch.allclose(q.codebook[0, 1], torch.tensor([1.3, 0.0]), atol=0.1)
    # the far code was never chosen: restarted onto the data at the 5th step
    assert q.codebook[0, 3].abs().max() > 50
    q(data)
    assert int(q.restarts[0]) == 1
    assert q.codebook[0, 3].abs().max() < 2


def _small_model(**kw):
    cfg = HitTokenizerConfig(**{"latent_dim": 4, "codebook_size": 64, "levels": 2, "hidden": 32,
                                **kw})
    return HitTokenizer(cfg)


@pytest.fixture(scope="module")
def events():
    return list(generate_events(3, mu=5, seed=11))


@pytest.fixture(scope="module")
def trained(events, tmp_path_factory):
    out = tmp_path_factory.mktemp("tok")
    cfg = {"model": {"latent_dim": 4, "codebook_size": 256, "levels": 3, "hidden": 64},
           "train": {"epochs": 10, "batch_size": 256, "patience": 10}}
    return train_hit_tokenizer(cfg, out, progress=False, events=(events[:2], events[2:])), out


def test_training_learns_and_keeps_codes_alive(trained, events):
    model, out = trained
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    sample = hit_sample(events[2:])
    m = tokenizer_metrics(model, sample)
    # an untrained tokeniser of the same shape, codebooks from k-means on its latents
    fresh = HitTokenizer(model.config)
    with torch.no_grad():
        fresh.quantizer.initialise(fresh.encode_latent(torch.from_numpy(sample.xyz)))
    m0 = tokenizer_metrics(fresh, sample, per_layer=False)
    assert m["rms_3d"] < 0.5 * m0["rms_3d"]
    assert m["rms_3d"] < 60.0          # mm: 3 levels x 256 codes, 10 s of training (35 mm)
    assert min(m["code_usage"]) > 0.8
    assert {"rms_rphi", "q68_z", "perplexity", "same_token_tracks_level0"} <= set(m)
    assert len(m["per_layer"]) == len(np.unique(sample.layer))


def test_encode_decode_api_and_checkpoint_roundtrip(trained, events, tmp_path):
    model, _ = trained
    xyz = hit_sample(events[:1]).xyz[:500]
    tok = model.encode(xyz)
    assert tok.shape == (500, 3) and tok.dtype == np.int64
    assert np.array_equal(tok, model.encode(xyz))           # deterministic
    rec = model.decode(tok)
    assert rec.shape == (500, 3)
    t2, r2 = model.reconstruct(xyz)
    assert np.array_equal(t2, tok) and np.allclose(r2, rec)
    path = registry.save(model, tmp_path / "tok.pt")
    back = registry.load(path, expect="hit_tokenizer")
    assert np.array_equal(back.encode(xyz), tok)
    assert np.allclose(back.decode(tok), rec)


def test_layer_aware_variant(events):
    model = _small_model(layer_input=True, n_layer_ids=32)
    s = hit_sample(events[:1])
    model.train()
    loss = model.loss((torch.from_numpy(s.xyz[:256]), torch.from_numpy(s.layer[:256])))
    assert torch.isfinite(loss)
    model.eval()
    tok = model.encode(s.xyz[:100], s.layer[:100])
    assert model.decode(tok, s.layer[:100]).shape == (100, 3)
    with pytest.raises(ValueError, match="layer"):
        model.encode(s.xyz[:100])
    with pytest.raises(ValueError, match="unknown layer"):
        model.encode(s.xyz[:2], [0, 99])


def test_layer_index_and_track_order(events):
    ev = events[0]
    li = layer_index(ev)
    geo = ev.geometry
    for i in (0, ev.n_hits // 2, ev.n_hits - 1):
        lay = geo.layers[li[i]]
        assert (lay.volume_id, lay.layer_id) == (ev.hits["volume_id"][i], ev.hits["layer_id"][i])
    bare = dataclasses.replace(ev, geometry=None)
    lb = layer_index(bare)
    assert lb.min() == 0 and len(np.unique(lb)) == len(np.unique(li))
    s = hit_sample([ev])
    off, rows = track_order(s)
    for t in range(min(50, len(off) - 1)):
        r = rows[off[t]:off[t + 1]]
        assert len(np.unique(s.particle_id[r])) == 1
        assert np.all(np.diff(np.linalg.norm(s.xyz[r].astype(float), axis=1)) >= 0)


def test_bad_input(events):
    model = _small_model()
    model.eval()
    with pytest.raises(ValueError, match="xyz"):
        model.encode(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="not finite"):
        model.encode(np.array([[1.0, 2.0, np.nan]]))
    with pytest.raises(ValueError, match="empty"):
        model.encode(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="tokens"):
        model.decode(np.array([[0, 64]]))
    with pytest.raises(ValueError, match="tokens"):
        model.decode(np.zeros((3, 5), dtype=np.int64))
    for field, value in (("codebook_size", 1), ("levels", 0), ("ema_decay", 1.0),
                         ("length_scale", -1.0), ("restart_every", 0)):
        with pytest.raises(ValueError, match=field):
            HitTokenizer(HitTokenizerConfig(**{field: value}))
    with pytest.raises(ValueError, match="no events"):
        hit_sample([])
    empty = Event(hits=Table({"hit_id": np.zeros(0, np.int64), "x": np.zeros(0),
                              "y": np.zeros(0), "z": np.zeros(0),
                              "volume_id": np.zeros(0, np.int64),
                              "layer_id": np.zeros(0, np.int64),
                              "module_id": np.zeros(0, np.int64)}))
    with pytest.raises(ValueError, match="no hits"):
        hit_sample([empty])
    with pytest.raises(ValueError, match="unknown section"):
        train_hit_tokenizer({"modle": {}}, "unused", progress=False)
    with pytest.raises(ValueError, match="codebook_size"):
        train_hit_tokenizer({"model": {"codebook_size": 0}}, "unused", progress=False)


def test_evaluate_writes_plots(trained, events, tmp_path):
    model, _ = trained
    res = evaluate_hit_tokenizer(model, events=events[2:], out_dir=tmp_path)
    assert "RMS" in res["table"]
    for name in ("tokenizer_codebook_use.png", "tokenizer_error_map.png",
                 "tokenizer_track_tokens.png", "tokenizer_eval.json"):
        assert (tmp_path / name).stat().st_size > 1000


def test_tree_search_matches_the_distance_matrix(trained, events):
    # encode() finds codes with the native k-d tree (latent_dim <= 8); the training's
    # batched distance matrix gives the same codes but for float rounding at exact ties
    model, _ = trained
    xyz = hit_sample(events[:1]).xyz
    fast = model.encode(xyz, n_threads=2)
    with torch.no_grad():
        ref = model.quantizer.eval()(model.encode_latent(torch.from_numpy(xyz)))[1].numpy()
    assert (fast == ref).all(1).mean() > 0.999
    assert np.array_equal(fast, model.encode(xyz, n_threads=1))   # thread-count invariant


def test_shipped_tokenizer_meets_its_targets():
    # the shipped weights (configs/hit_tokenizer.json) on a fresh event: <= 1 mm 3-D RMS
    # with 4 levels of 2048 codes, >= 95 % of each level's codes in use
    model = registry.pretrained("hit_tokenizer")
    assert (model.config.levels, model.config.codebook_size) == (4, 2048)
    sample = hit_sample(list(generate_events(1, mu=50, seed=424242)))
    m = tokenizer_metrics(model, sample, per_layer=False)
    assert m["rms_3d"] <= 1.0, m["rms_3d"]
    assert min(m["code_usage"]) >= 0.95, m["code_usage"]


def test_dead_code_window_waits_for_two_assignments_per_code():
    # a large codebook and small batches: codes are judged only once the window has seen
    # 2 x size assignments, not every restart_every steps regardless
    q = _quantizer(levels=1, size=64, dim=2, restart_every=1)
    q.initialise(torch.randn(640, 2, generator=torch.Generator().manual_seed(5)))
    q.train()
    batch = torch.randn(10, 2, generator=torch.Generator().manual_seed(6))
    for _ in range(12):          # 120 assignments < 128
        q(batch)
    assert int(q.restarts[0]) == 0
    q(batch)                     # 130 >= 128: the codes no batch point chose restart
    assert int(q.restarts[0]) > 0
