#!/usr/bin/env bash
# The Python tests of the native kernels against an ASan + UBSan build of helixkit._core.
# Builds _core in build/asan (the library objects of scripts/sanitizers.sh are reused),
# puts it into a throwaway copy of the package (python/helixkit and any installed
# helixkit are left alone) and runs the kernel test files with the sanitizer runtime
# preloaded into the interpreter. Any report fails: ASan aborts, UBSan halts (exit 1), and
# an ASan report file (also one from a test's subprocess) fails the run even if pytest passed.
# Called by scripts/test.sh (CI) after scripts/sanitizers.sh; docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/asan_config.sh
. scripts/asan_config.sh
JOBS=${JOBS:-2}
PY=${PYTHON:-python}

# The native kernels are the subject of these files (kNN / radius / DBSCAN graphs, pixel
# clustering, max-norm neighbours and the KSG estimator, Annoy, triplet and hashing
# seeding (also DeepCore's baseline), Kalman fitter, CKF, units, the reliability and fuzz
# cases); the ACTS parity files compare the same kernels with pyacts. Not run: the training,
# model, I/O, CLI and report tests (their native calls, where they make any, are the entry
# points above; their torch training would add minutes); docs/reliability.md lists them.
TESTS=(test_graph test_pixel_clustering test_interpret_mi test_annoy_forest test_seeding
       test_hashing test_deepcore_seeding test_fitting test_fitting_acts test_finding
       test_finding_acts test_units test_reliability test_fuzz)

# pybind11 from the interpreter's environment; CI's venv has none (pip builds the package
# in an isolated environment), so then a private copy in the build dir, not in the venv.
pyb="$ASAN_BUILD_DIR/pybind11"
if ! pybind11_dir=$("$PY" -m pybind11 --cmakedir 2>/dev/null); then
  [ -d "$pyb/pybind11" ] || "$PY" -m pip install -q --target "$pyb" "pybind11>=2.12"
  pybind11_dir=$(PYTHONPATH="$pyb" "$PY" -m pybind11 --cmakedir)
fi
asan_configure -DHELIXKIT_BUILD_PYTHON=ON -DPython_EXECUTABLE="$(command -v "$PY")" \
  -Dpybind11_DIR="$pybind11_dir"
cmake --build "$ASAN_BUILD_DIR" -j "$JOBS" --target _core
so=$(ls "$ASAN_BUILD_DIR"/bindings/_core*.so)
# a module without the sanitizers would pass every test and prove nothing
readelf -d "$so" | grep 'NEEDED.*libasan' >/dev/null || { echo "$so: not an ASan build" >&2; exit 1; }

pkg="$ASAN_BUILD_DIR/python-pkg"
rm -rf "$pkg" && mkdir -p "$pkg"
cp -r python/helixkit "$pkg/"
# a normal _core (scripts/dev-build.sh puts one next to the sources) must not be picked
rm -f "$pkg"/helixkit/_core*.so
find "$pkg" -name __pycache__ -prune -exec rm -rf {} +
cp "$so" "$pkg/helixkit/"

reports="$ASAN_BUILD_DIR/python-reports"
rm -rf "$reports" && mkdir -p "$reports"
CXX=${CXX:-c++}
# libasan must be the first library of the process, and the interpreter is not built with
# it. libstdc++ too: the interpreter does not link it, and without it at start-up ASan
# cannot intercept __cxa_throw and aborts ("CHECK failed ... real___cxa_throw") on the first
# C++ exception, i.e. on the first ValueError from a kernel's input check.
preload="$("$CXX" -print-file-name=libasan.so):$("$CXX" -print-file-name=libstdc++.so.6)"
export LD_PRELOAD="$preload"
export PYTHONPATH="$PWD/$pkg"
# No leak checks: CPython and the extension modules keep memory until exit by design; the
# library's own leaks are checked by scripts/sanitizers.sh. ASan reports go to files:
# pytest's capture would swallow one from the pytest process itself (it dies before
# printing), and a subprocess's goes wherever the test sends that subprocess's stderr.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$PWD/$reports/asan"
# UBSan ignores log_path here (GCC 12's libubsan, loaded with the module: no file is
# written), so its reports go to stderr, which --capture=sys below leaves on the terminal.
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

"$PY" - "$PWD/$pkg/" <<'PY'
import sys
import helixkit._core as core
if not core.__file__.startswith(sys.argv[1]):
    sys.exit(f"the tests would not use the ASan module: helixkit._core is {core.__file__}")
PY
paths=()
for t in "${TESTS[@]}"; do paths+=("tests/python/$t.py"); done
set +e
"$PY" -m pytest -q -p no:cacheprovider --capture=sys "${paths[@]}"
rc=$?
set -e
if [ -n "$(ls -A "$reports")" ]; then
  cat "$reports"/* >&2
  echo "sanitizers (Python): reports above (pytest exit code $rc)" >&2
  exit 1
fi
if [ $rc -ne 0 ]; then
  echo "sanitizers (Python): pytest failed with exit code $rc" >&2
  exit $rc
fi
echo "sanitizers (Python): no reports"
