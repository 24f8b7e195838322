#!/usr/bin/env bash
# The test command: set up, run the Python tests, smoke-run the benchmarks,
# build and run the C++ tests (ctest), run them again under ASan + UBSan, run the Python
# kernel tests against an ASan + UBSan build of _core, install
# the C++ library and build the downstream find_package(helixkit) consumer against it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
JOBS=${JOBS:-2}

run_pytest() {
  # pytest exits with 5 when it collected no tests: that is a failure here.
  set +e
  python -m pytest "$@"
  local rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    echo "pytest $* failed with exit code $rc" >&2
    exit $rc
  fi
}

# Run from a neutral directory so the installed package is tested, not the source tree.
run_pytest -q -p no:cacheprovider tests/python
run_pytest -q -p no:cacheprovider benchmarks --benchmark-disable

cmake -S . -B build/cpp -DCMAKE_BUILD_TYPE=Release -DHELIXKIT_BUILD_TESTS=ON -DHELIXKIT_WERROR=ON
cmake --build build/cpp -j "$JOBS"
ctest --test-dir build/cpp --output-on-failure -j "$JOBS"
# the same C++ tests under AddressSanitizer + UndefinedBehaviorSanitizer (any report fails)
bash scripts/sanitizers.sh
# the Python tests of the native kernels against an ASan + UBSan _core (any report fails)
bash scripts/sanitizers_python.sh
cmake --install build/cpp --prefix build/install
cmake -S tests/downstream -B build/downstream -DCMAKE_PREFIX_PATH="$PWD/build/install"
cmake --build build/downstream -j "$JOBS"
ctest --test-dir build/downstream --output-on-failure
echo "all tests passed"
