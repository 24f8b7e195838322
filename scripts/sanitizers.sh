#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer build of the C++ library and its tests
# (ctest), in build/asan. Any report fails: ASan aborts on the first error, UBSan is made
# fatal (-fno-sanitize-recover=all) and halts. Called by scripts/test.sh (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
GEN=()
if command -v ninja >/dev/null 2>&1; then GEN=(-G Ninja); fi
cmake -S . -B build/asan "${GEN[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DHELIXKIT_BUILD_TESTS=ON -DHELIXKIT_BUILD_PYTHON=OFF \
  -DCMAKE_CXX_FLAGS="$FLAGS" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build build/asan -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j "$JOBS"
echo "sanitizers: no reports"
