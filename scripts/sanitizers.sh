#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer build of the C++ library and its tests
# (ctest), in build/asan. Any report fails: ASan aborts on the first error, UBSan is made
# fatal (-fno-sanitize-recover=all) and halts. Called by scripts/test.sh (CI), before
# scripts/sanitizers_python.sh, which reuses the library built here.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/asan_config.sh
. scripts/asan_config.sh
JOBS=${JOBS:-2}
asan_configure -DHELIXKIT_BUILD_TESTS=ON -DHELIXKIT_BUILD_PYTHON=OFF
cmake --build "$ASAN_BUILD_DIR" -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$ASAN_BUILD_DIR" --output-on-failure -j "$JOBS"
echo "sanitizers: no reports"
