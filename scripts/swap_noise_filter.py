"""Put a separately trained noise filter into a learned-tracking bundle.

    python scripts/swap_noise_filter.py BUNDLE NOISE OUT

BUNDLE: a ``learned_tracking`` checkpoint (e.g. the shipped
``python/helixkit/learned/weights/learned_tracking.pt``); NOISE: a ``noise`` checkpoint
(``helixkit train noise --config configs/noise_filter.json --out runs/noise_v2`` →
``runs/noise_v2/noise/best.pt``); OUT: the new bundle. GC, edge classifier, track filter,
working points and volumes are kept; the bundle's metrics and extras are carried over.
"""

from __future__ import annotations

import sys

from helixkit.learned.model import LearnedTracking
from helixkit.nn.registry import load, read_checkpoint, save


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__)
        return 2
    bundle_path, noise_path, out = argv
    bundle = load(bundle_path, expect="learned_tracking")
    noise = load(noise_path, expect="noise")
    vols = None if bundle.config.volumes is None else tuple(bundle.config.volumes)
    new = LearnedTracking.from_parts(bundle.gc, bundle.oc, noise, eps=bundle.config.eps,
                                     min_samples=bundle.config.min_samples, volumes=vols,
                                     edge=bundle.edge, track_filter=bundle.track_filter)
    old = read_checkpoint(bundle_path)
    save(new, out, metrics=old.get("metrics"), extra={**(old.get("extra") or {}),
                                                        "noise_from": str(noise_path)})
    print(f"wrote {out}: noise filter {noise.config.extra_features}, direction features "
          f"{noise.config.direction_features}, threshold {noise.config.threshold:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
