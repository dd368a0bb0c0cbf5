#!/usr/bin/env bash
# tests/install/run.sh - the install test (ctest: install_consumer).
#
# Installs a lumen build into a scratch prefix with `cmake --install`, then
# builds tests/install/main.c against that prefix, as a user would, four ways,
# and runs each under mpiexec on 2 ranks:
#   1. CMake: find_package(lumen) + lumen::lumen          (consumer)
#   2. CMake: find_package(lumen) + lumen::lumen_static   (consumer_static)
#   3. mpicc $(pkg-config --cflags --libs lumen)          (shared library)
#   4. mpicc $(pkg-config --static --cflags --libs lumen) (static archive)
#
#   run.sh --build-dir=DIR --work=DIR [--cmake=cmake] [--cc=cc] [--mpicc=mpicc]
#          [--mpiexec=mpiexec] [--np-flag=-n] [--mpiexec-extra="--oversubscribe"]
#          [--sanitizer=address,undefined]
#
# tests/install.cmake passes what the parent build found, so an MPICH build is
# installed, consumed and run with MPICH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="" work="" cmake=cmake cc="" mpicc="" mpiexec="" np_flag=-n extra="" sanitizer=""
for arg in "$@"; do
    case "$arg" in
        --build-dir=*) build="${arg#*=}" ;;
        --work=*) work="${arg#*=}" ;;
        --cmake=*) cmake="${arg#*=}" ;;
        --cc=*) cc="${arg#*=}" ;;
        --mpicc=*) mpicc="${arg#*=}" ;;
        --mpiexec=*) mpiexec="${arg#*=}" ;;
        --np-flag=*) np_flag="${arg#*=}" ;;
        --mpiexec-extra=*) extra="${arg#*=}" ;;
        --sanitizer=*) sanitizer="${arg#*=}" ;;
        *) echo "run.sh: unknown argument '$arg'" >&2; exit 2 ;;
    esac
done
if [ -z "$build" ] || [ -z "$work" ]; then
    echo "run.sh: --build-dir and --work are required" >&2
    exit 2
fi
# a CMake variable that found nothing arrives as "" or "...-NOTFOUND"
case "$mpicc" in "" | *NOTFOUND) mpicc=mpicc ;; esac
case "$mpiexec" in "" | *NOTFOUND) mpiexec=mpiexec ;; esac
case "$cc" in *NOTFOUND) cc="" ;; esac
np_flag="${np_flag:--n}"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

prefix="$work/prefix"
checks=0
fail() {
    echo "install test: FAILED: $*" >&2
    exit 1
}
step() {
    echo
    echo "-- $*"
}

sanflags=()
if [ -n "$sanitizer" ]; then
    # an instrumented liblumen needs an instrumented program around it
    sanflags=("-fsanitize=$sanitizer" -fno-omit-frame-pointer)
fi
read -r -a extra_args <<<"$extra"
launch() { # launch NAME EXE
    step "$mpiexec $np_flag 2 ${extra_args[*]} $2"
    "$mpiexec" "$np_flag" 2 "${extra_args[@]}" "$2" || fail "$1 exited with $?"
    checks=$((checks + 1))
}

rm -rf "$work"
mkdir -p "$work"

step "cmake --install $build --prefix $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log" || {
    cat "$work/install.log"
    fail "cmake --install"
}
sed 's/^/   /' "$work/install.log"
for f in include/lumen.h include/lumen/mpi.h; do
    [ -f "$prefix/$f" ] || fail "$f is not installed"
done
pcfile="$(find "$prefix" -name lumen.pc -path '*/pkgconfig/*' | head -n 1)"
cfgfile="$(find "$prefix" -name lumenConfig.cmake | head -n 1)"
[ -n "$pcfile" ] || fail "lumen.pc is not installed"
[ -n "$cfgfile" ] || fail "lumenConfig.cmake is not installed"
libdir="$(dirname "$(dirname "$pcfile")")"
for f in liblumen.so liblumen.a; do
    [ -e "$libdir/$f" ] || fail "$libdir/$f is not installed"
done
checks=$((checks + 1))

# ---- CMake package -----------------------------------------------------------
step "configure + build tests/install with find_package(lumen)"
cfg=(-S "$here" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" -DMPI_C_COMPILER="$mpicc"
     -DCMAKE_BUILD_TYPE=RelWithDebInfo)
[ -n "$cc" ] && cfg+=(-DCMAKE_C_COMPILER="$cc")
[ ${#sanflags[@]} -gt 0 ] && cfg+=(-DCMAKE_C_FLAGS="${sanflags[*]}" -DCMAKE_EXE_LINKER_FLAGS="${sanflags[*]}")
"$cmake" "${cfg[@]}" >"$work/consumer-configure.log" 2>&1 || {
    cat "$work/consumer-configure.log"
    fail "configuring the consumer with find_package(lumen)"
}
grep -E 'found lumen|Found MPI_C' "$work/consumer-configure.log" | sed 's/^/   /'
"$cmake" --build "$work/consumer" -j 2 >"$work/consumer-build.log" 2>&1 || {
    cat "$work/consumer-build.log"
    fail "building the consumer against lumen::lumen / lumen::lumen_static"
}
checks=$((checks + 1))
launch "find_package + lumen::lumen" "$work/consumer/consumer"
launch "find_package + lumen::lumen_static" "$work/consumer/consumer_static"

# ---- pkg-config ----------------------------------------------------------------
PKG_CONFIG_PATH="$(dirname "$pcfile")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_PATH
pc_includedir="$(pkg-config --variable=includedir lumen)" || fail "pkg-config cannot read $pcfile"
if [ ! -f "$pc_includedir/lumen.h" ]; then
    sed 's/^/   /' "$pcfile"
    fail "lumen.pc points at includedir=$pc_includedir, not at the prefix it was installed in ($prefix): the .pc file is not relocatable"
fi

step "mpicc main.c \$(pkg-config --cflags --libs lumen)"
read -r -a pcflags <<<"$(pkg-config --cflags --libs lumen)"
echo "   pkg-config: ${pcflags[*]}"
"$mpicc" -std=c11 -Wall -Wextra -Werror "${sanflags[@]}" "$here/main.c" -o "$work/consumer_pc" \
    "${pcflags[@]}" -Wl,-rpath,"$libdir" || fail "mpicc with pkg-config --libs"
# read the whole output first: `grep -q` closing the pipe early makes ldd die
# of SIGPIPE, which pipefail turns into a spurious failure
deps="$(ldd "$work/consumer_pc")"
grep -q "$libdir/liblumen.so" <<<"$deps" || fail "consumer_pc does not load $libdir/liblumen.so"
checks=$((checks + 1))
launch "pkg-config (shared)" "$work/consumer_pc"

step "mpicc main.c \$(pkg-config --static --cflags --libs lumen), archive only"
read -r -a pcflags <<<"$(pkg-config --static --cflags --libs lumen)"
echo "   pkg-config: ${pcflags[*]}"
# -llumen would pick the shared library next to the archive: ask for the archive
for i in "${!pcflags[@]}"; do
    [ "${pcflags[$i]}" = -llumen ] && pcflags[i]=-l:liblumen.a
done
"$mpicc" -std=c11 -Wall -Wextra -Werror "${sanflags[@]}" "$here/main.c" -o "$work/consumer_pc_static" \
    "${pcflags[@]}" || fail "mpicc with pkg-config --static --libs"
dyn="$(readelf -d "$work/consumer_pc_static")"
if grep -q 'liblumen\.so' <<<"$dyn"; then
    fail "consumer_pc_static still needs liblumen.so"
fi
checks=$((checks + 1))
launch "pkg-config --static" "$work/consumer_pc_static"

echo
echo "install test: $checks checks passed (prefix $prefix, $(basename "$mpicc"), $(basename "$mpiexec"))"
