#!/usr/bin/env bash
# Developer build without pip: compile the C++ library, the C++ tests and the
# _core module into build/dev-inplace, and drop _core*.so next to the Python
# sources. Then run the Python tests against the source tree:
#   PYTHONPATH=python python -m pytest tests/python
#   ctest --test-dir build/dev-inplace
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
# pip builds the package in an isolated environment, so a venv made by
# scripts/setup.sh has no pybind11 of its own: install it for this build.
"$PY" -m pybind11 --cmakedir >/dev/null 2>&1 || "$PY" -m pip install -q "pybind11>=2.12"
GEN=()
if command -v ninja >/dev/null 2>&1; then GEN=(-G Ninja); fi
cmake -S . -B build/dev-inplace "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DHELIXKIT_BUILD_PYTHON=ON -DHELIXKIT_BUILD_TESTS=ON \
  -DPython_EXECUTABLE="$(command -v "$PY")" \
  -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" >/dev/null
cmake --build build/dev-inplace -j "${JOBS:-2}"
# a new file, then a rename: overwriting the mapped .so in place crashes running processes
for so in build/dev-inplace/bindings/_core*.so; do
  cp -f "$so" "python/helixkit/.$(basename "$so").tmp" && mv -f "python/helixkit/.$(basename "$so").tmp" "python/helixkit/$(basename "$so")"
done
