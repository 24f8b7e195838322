#!/usr/bin/env bash
# Create .venv (if missing) and install helixkit with its test extras into it.
# torch is pinned to the CPU build 2.13.0 *before* the package, so that the
# package's own range (torch>=2.2,<3) installs nothing more.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0"
python -m pip install -q ".[test]"
