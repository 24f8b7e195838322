#!/usr/bin/env bash
# The main job: set up, then run `helixkit demo` on the built-in simulation.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
helixkit demo --out "${1:-demo-output}"
