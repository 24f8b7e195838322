from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def _run_with_simd(script: str, simd: str) -> str:
    import os
    import subprocess
    import sys

    env = dict(os.environ, HELIXKIT_SIMD=simd)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


@pytest.fixture
def simd_outputs():
    """``simd_outputs(script)`` → {"auto": stdout, "sse2": stdout}: the script run in two
    subprocesses, with the run-time AVX2 kernels allowed and with HELIXKIT_SIMD=sse2
    forcing the baseline ones (the choice is made once per process)."""
    return lambda script: {simd: _run_with_simd(script, simd) for simd in ("auto", "sse2")}


@pytest.fixture
def demo_report(tmp_path):
    """A stand-in for the demo's Report: ``out_dir`` = tmp_path, ``results`` and ``tables``
    collected, every plot checked to exist."""

    class Report:
        out_dir = tmp_path

        def __init__(self) -> None:
            self.results: dict = {}
            self.tables: list = []

        def table(self, title, rows, headers):
            self.tables.append((title, rows, headers))

        def plot(self, path):
            assert path.exists()

    return Report()
