"""glibc's dynamic mmap threshold, raised once per process before the CPU inference loops.

glibc serves every block above its mmap threshold (128 KiB at start) with freshly mapped
pages and unmaps it when freed, so the activations of each batch (megabytes) fault in anew,
batch after batch. Freeing one mapped block raises the threshold to that block's size, and
the trim threshold to twice it (glibc's dynamic rule, up to 32 MiB on 64-bit): from then on
such buffers are reused from the heap. DeepCore's ``find_crossings`` ran at 9.2 x 10^3
windows/s before and 10.5-11.5 x 10^3 after one such block (docs/deepcore.md). The rule is
glibc's alone: other allocators ignore the block, and a user who set
``MALLOC_MMAP_THRESHOLD_`` has switched the dynamic rule off and keeps their setting.
"""

from __future__ import annotations

import sys

import numpy as np

#: Just under glibc's DEFAULT_MMAP_THRESHOLD_MAX (32 MiB): the largest threshold the
#: dynamic rule sets.
_BLOCK_BYTES = 30 * 2**20
_state = {"raised": False}


def raise_mmap_threshold() -> None:
    """Allocate and free one 30 MiB block (untouched, no page is faulted in), once per
    process, on Linux."""
    if _state["raised"] or not sys.platform.startswith("linux"):
        return
    _state["raised"] = True
    block = np.empty(_BLOCK_BYTES, dtype=np.uint8)
    del block
