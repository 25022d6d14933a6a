#!/usr/bin/env bash
# The install as a user meets it: `cmake --install` into a scratch prefix, then the README's C
# example built against that prefix with pkg-config and with a CMake project using
# find_package(mist) (shared and static), the installed command, and the Python package from
# the prefix with nothing pointing at the build or source tree.
# usage: install_check.sh BUILD_DIR SCRATCH_DIR   (SCRATCH_DIR is created and removed)
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
scratch=$2
rm -rf "$scratch"
mkdir -p "$scratch"
trap '[ -n "${KEEP:-}" ] || rm -rf "$scratch"' EXIT
scratch=$(cd "$scratch" && pwd)
P=$scratch/prefix
fail() { echo "install_check: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$P" >"$scratch/install.log" || { cat "$scratch/install.log"; fail "cmake --install failed"; }
pc=$(find "$P" -name mist.pc) && [ -n "$pc" ] || fail "no mist.pc installed"
cfg=$(find "$P" -name mistConfig.cmake) && [ -n "$cfg" ] || fail "no mistConfig.cmake installed"
pydir=$(dirname "$(dirname "$(find "$P" -path '*/mist/__init__.py')")")
[ -d "$pydir" ] || fail "no Python package installed"
export PKG_CONFIG_PATH=$(dirname "$pc")
[ "$(pkg-config --variable=prefix mist)" = "$P" ] || fail "mist.pc prefix is $(pkg-config --variable=prefix mist), not $P"
libdir=$(pkg-config --variable=libdir mist)

# The README's C example (the ```c block of "## C library"), its #include lines first, the
# rest as the body of main.
awk '/^## C library/{s=1} s&&/^```c/{c=1;next} c&&/^```/{exit} c' "$src/README.md" >"$scratch/snippet.c"
grep -q mist_gen_dataset "$scratch/snippet.c" || fail "README's C example not found"
{ echo '#include <stdio.h>'; grep '^#include' "$scratch/snippet.c"; echo 'int main(void) {'
  grep -v '^#include' "$scratch/snippet.c"; echo 'return 0; }'; } >"$scratch/example.c"
check_run() { # DIR PROGRAM: runs it in DIR; it must print the README's MI and write x.npy
  (cd "$1" && "$2") >"$1/out.txt" || fail "$2 failed"
  grep -q "true MI 1.02165 nats" "$1/out.txt" || fail "$2 printed: $(cat "$1/out.txt")"
  [ -s "$1/x.npy" ] || fail "$2 wrote no x.npy"
}

mkdir "$scratch/pc"
cc -std=c11 -Wall -Werror "$scratch/example.c" $(pkg-config --cflags --libs mist) \
  -Wl,-rpath,"$libdir" -o "$scratch/pc/example" || fail "pkg-config build failed"
check_run "$scratch/pc" "$scratch/pc/example"

mkdir "$scratch/cm"
cat >"$scratch/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.18)
project(example C)
find_package(mist 0.1 REQUIRED)
add_executable(example_shared "$scratch/example.c")
target_link_libraries(example_shared PRIVATE mist::mist)
add_executable(example_static "$scratch/example.c")
target_link_libraries(example_static PRIVATE mist::mist_static)
CM
cmake -S "$scratch/cm" -B "$scratch/cm/build" -DCMAKE_PREFIX_PATH="$P" >"$scratch/cm.log" 2>&1 &&
  cmake --build "$scratch/cm/build" >>"$scratch/cm.log" 2>&1 || { cat "$scratch/cm.log"; fail "find_package build failed"; }
check_run "$scratch/cm" "$scratch/cm/build/example_shared"
rm "$scratch/cm/x.npy"
check_run "$scratch/cm" "$scratch/cm/build/example_static"
deps=$(ldd "$scratch/cm/build/example_shared")
grep -q "$libdir/libmist.so" <<<"$deps" || fail "example_shared does not use the installed libmist.so"

# The installed command finds its shipped model under the prefix.
unset MIST_WEIGHTS MIST_LIB
"$P/bin/mist" estimate "$scratch/pc/x.npy" --dx 5 --json --guard off >"$scratch/est.json" 2>"$scratch/est.err" || fail "installed mist estimate failed"
grep -q "\"weights\": \"$P/" "$scratch/est.json" || fail "installed mist used $(grep -o '"weights": "[^"]*"' "$scratch/est.json")"

# The Python package from the prefix: its own libmist and shipped model, never the build's.
cd "$scratch"
PYTHONPATH=$pydir PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -c "
import mist, os
P = os.path.realpath('$P') + '/'
assert os.path.realpath(mist.__file__).startswith(P), mist.__file__
assert os.path.realpath(mist.lib_path()).startswith(P), mist.lib_path()
assert os.path.realpath(mist.default_model_path()).startswith(P), mist.default_model_path()
x, y, mi = mist.gen('normal-2pair-base', 500, 5, 5, seed=7, params={'strength': 2.0})
assert abs(mi - 1.02165) < 1e-5, mi
e = mist.estimate(x, y, guard='off')
assert e.lower < e.estimate < e.upper and abs(e.estimate - mi) < 0.5, e
print('python:', e)
" || fail "the installed Python package failed"
echo "install_check: ok ($P)"
