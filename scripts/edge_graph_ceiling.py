"""Ceiling of the edge route's graph: truth edge scores (1 = same particle) on the graph the
shipped classifier scores, kNN only and kNN + geometric doublets, then the same track
building; DM / perfect efficiency and fake rate over the model's hits, 3 events at <mu> = 200.

    python scripts/edge_graph_ceiling.py      # ~1 min
"""
import dataclasses
import numpy as np, torch
from helixkit import nn
from helixkit.data import generate_events
from helixkit.nn.features import hit_features, feature_columns
from helixkit.learned.edge import edge_graph, build_tracks, edge_inputs
from helixkit.learned.noise import noise_features
from helixkit.evaluation import tracking_metrics
from helixkit.data import layer_key
from helixkit.learned.batches import hit_geometry
torch.set_num_threads(1)
M = nn.pretrained("learned_tracking")
evs = list(generate_events(3, mu=200, seed=12345, first_event_id=20_000))
for doublets in (False, True):
    cfg = dataclasses.replace(M.edge.config, doublets=doublets)
    res = []
    for ev in evs:
        extra = M.extra_features
        feats, rows = hit_features(ev, volumes=(7, 8, 9), extra=extra)
        cols = feature_columns(extra, tuple(M.noise.config.extra_features))
        p = M.noise.noise_probability(noise_features(feats[:, cols], n_threads=1))
        keep = p < M.noise.config.threshold
        feats, rows = feats[keep], rows[keep]
        emb = M.gc.embed(feats[:, feature_columns(extra, tuple(M.gc.config.extra_features))])
        pairs = edge_graph(emb, cfg, hit_geometry(ev, rows), n_threads=1)
        _, inner, outer = edge_inputs(feats, emb, cfg, edges=pairs)
        pid = ev.hit_particle_id[rows]
        score = ((pid[inner] == pid[outer]) & (pid[inner] > 0)).astype(np.float32)
        lab = build_tracks(score, inner, outer, len(rows), 0.5, linking="matching")
        labels = np.full(ev.n_hits, -1); labels[rows] = lab
        _, sel = hit_features(ev, volumes=(7, 8, 9))
        m = tracking_metrics(labels[sel], ev.hit_particle_id[sel], ev.particles,
                             layer_key=layer_key(ev, sel), pt_thld=0.9)
        res.append((m.double_majority, m.perfect, m.fake_double_majority, pairs.shape[1]))
    dm, perfect, fake, n_edges = np.mean(res, 0)
    print(f"{'kNN + doublets' if doublets else 'kNN only':15s} DM {100 * dm:.1f} %  "
          f"perfect {100 * perfect:.1f} %  fake {100 * fake:.1f} %  {n_edges:,.0f} edges/event")
