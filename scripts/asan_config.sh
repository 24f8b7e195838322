# Sourced by scripts/sanitizers.sh (C++ tests) and scripts/sanitizers_python.sh (Python
# kernel tests against an ASan _core): one ASan + UBSan configuration of one build dir, so
# the C++ library is compiled once for both (the build is most of their time in CI).
ASAN_BUILD_DIR=build/asan
SANITIZE="-fsanitize=address,undefined"

# asan_configure [-DOPTION=VALUE...]: configure $ASAN_BUILD_DIR with the sanitizer flags.
# -O1 -g go in the build type's flags: CMAKE_CXX_FLAGS comes first on the compile line, so
# an -O1 there is overridden by RelWithDebInfo's default -O2 (which takes ~1.4x as long to
# compile with the sanitizers).
asan_configure() {
  local gen=()
  if command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi
  cmake -S . -B "$ASAN_BUILD_DIR" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="$SANITIZE -fno-sanitize-recover=all -fno-omit-frame-pointer" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g -DNDEBUG" \
    -DCMAKE_EXE_LINKER_FLAGS="$SANITIZE" -DCMAKE_SHARED_LINKER_FLAGS="$SANITIZE" \
    -DCMAKE_MODULE_LINKER_FLAGS="$SANITIZE" "$@" >/dev/null
}
