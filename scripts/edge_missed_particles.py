"""Why the edge route misses the particles it misses: each particle of interest (pT > 0.9 GeV,
|η| < 4, hits on >= 3 pixel layers) that no candidate matches by double majority is put in
one class — split (no candidate holds > 50 % of its hits), merged (one does, but it is not
> 50 % this particle's), none (no hit assigned) — and tagged with what went wrong along its
path: a hit lost to the noise filter, a consecutive hit pair (by r) missing from the graph,
or such a pair in the graph but not linked (below the threshold or lost in the matching).
Two hits of a particle on one layer (module overlaps) count as a consecutive pair too, so
"pair not in graph" is an upper bound.

    python scripts/edge_missed_particles.py                     # the shipped model, ~1 min
    python scripts/edge_missed_particles.py --checkpoint runs/lt_p3/learned_tracking.pt --events 6 --seed 777
"""
import argparse
from collections import Counter

import numpy as np
import torch

from helixkit import nn
from helixkit.data import layer_key
from helixkit.data import generate_events
from helixkit.nn.features import hit_features
from helixkit.learned.track_filter import refine_tracks


def classify(labels: np.ndarray, mask: np.ndarray, pid: np.ndarray, p: int) -> str:
    lab = labels[mask]
    lab = lab[lab >= 0]
    if len(lab) == 0:
        return "none"
    values, counts = np.unique(lab, return_counts=True)
    best = values[np.argmax(counts)]
    track = labels == best
    if 2 * counts.max() <= mask.sum():
        return "split"
    if 2 * (pid[track] == p).sum() > track.sum() and track.sum() >= 3:
        return "ok"
    return "merged"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", help="learned_tracking checkpoint (default: the shipped one)")
    ap.add_argument("--events", type=int, default=3)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--mu", type=float, default=200.0)
    args = ap.parse_args()
    model = (nn.load(args.checkpoint, expect="learned_tracking") if args.checkpoint
             else nn.pretrained("learned_tracking"))
    if model.edge is None:
        raise SystemExit("the edge route only (this model is an OC one)")
    torch.set_num_threads(2)
    vols = None if model.config.volumes is None else tuple(model.config.volumes)
    pt_min = model.gc.config.pt_thld
    classes: Counter[str] = Counter()
    n_interest = 0
    for ev in generate_events(args.events, mu=args.mu, seed=args.seed, first_event_id=20_000):
        c = model.edge_candidates(ev)
        if c is None:           # too few hits for the graph
            continue
        rows, score, inner, outer = c["rows"], c["score"], c["inner"], c["outer"]
        geo = model.hit_geometry(ev, rows)
        lab = c["labels"]
        if model.track_filter is not None:
            lab = refine_tracks(model.track_filter, lab, c["links"], score, inner, outer,
                                c["threshold"], *geo, linking=model.edge.config.linking)
        _, sel = hit_features(ev, volumes=vols)
        sel = np.asarray(sel)
        pid = ev.hit_particle_id[sel]
        layer = layer_key(ev, sel)
        labels = np.full(ev.n_hits, -1)
        labels[rows] = lab
        labels = labels[sel]
        pos = np.full(ev.n_hits, -1)
        pos[rows] = np.arange(len(rows))
        edge_of = {(int(a), int(b)): e for e, (a, b) in enumerate(zip(inner, outer))}
        linked = np.zeros(len(score), bool)
        linked[c["links"]] = True
        r = np.hypot(np.asarray(ev.hits["x"]), np.asarray(ev.hits["y"]))
        parts = ev.particles
        pt = np.hypot(parts["px"], parts["py"])
        eta = np.arcsinh(np.asarray(parts["pz"]) / np.maximum(pt, 1e-12))
        for p, pt_p, eta_p in zip(np.asarray(parts["particle_id"]), pt, eta):
            mask = pid == p
            if pt_p < pt_min or abs(eta_p) >= 4 or len(np.unique(layer[mask])) < 3:
                continue
            n_interest += 1
            kind = classify(labels, mask, pid, p)
            if kind == "ok":
                continue
            hits = sel[mask]
            hits = hits[np.argsort(r[hits])]
            noise = bool((pos[hits] < 0).any())
            no_edge = unlinked = False
            for a, b in zip(pos[hits][:-1], pos[hits][1:]):
                if a < 0 or b < 0:
                    continue
                e = edge_of.get((int(a), int(b)), edge_of.get((int(b), int(a))))
                if e is None:
                    no_edge = True
                elif not linked[e]:
                    unlinked = True
            tags = [t for t, on in (("noise filter", noise), ("pair not in graph", no_edge),
                                    ("pair not linked", unlinked)) if on]
            classes[f"{kind:6s} {', '.join(tags) or '-'}"] += 1
    missed = sum(classes.values())
    print(f"particles of interest {n_interest}, missed {missed} "
          f"({100 * missed / max(n_interest, 1):.2f} %)")
    for key, n in classes.most_common():
        print(f"{n:6d}  {key}")


if __name__ == "__main__":
    main()
