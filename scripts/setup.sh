#!/usr/bin/env bash
# scripts/setup.sh - make this machine ready to build and run lumen.
#
#   bash scripts/setup.sh          install what is missing, print the toolchain
#   source scripts/setup.sh        the same, and keep the environment (the other
#                                  scripts do this)
#
# On Debian 12 it installs the missing Debian packages (apt-get as root, or
# through passwordless sudo; otherwise it prints the exact apt-get line to run
# and fails). When everything is there, apt is not touched. It then exports
# what mpirun needs to run as root without questions:
#   OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
#
# It also defines helpers used by quickstart.sh and test.sh:
#   lumen_mpi_flavor MPIEXEC        prints "openmpi", "mpich" or "unknown"
#   lumen_launch_args MPIEXEC NP    prints the launcher flags for NP local ranks
#                                   (--oversubscribe on Open MPI when NP > cores)
#   lumen_openmpi_cmake_args        -DMPI_C_COMPILER/-DMPIEXEC_EXECUTABLE for
#   lumen_mpich_cmake_args          Debian's Open MPI or MPICH

# Debian packages lumen needs. openmpi is the default MPI; mpich is the second
# flavour the test suite is run with; UCX and parallel HDF5 are detected and
# reported by the configure step. libudev-dev: `pkg-config --static lumen`
# goes through hwloc.pc, whose private libraries include -ludev. gfortran builds
# the Fortran module; libcjson-dev writes and reads JSON (timeline, state).
LUMEN_PACKAGES=(
    build-essential cmake pkg-config
    libopenmpi-dev openmpi-bin openssh-client
    mpich libmpich-dev
    libhwloc-dev libucx-dev libhdf5-openmpi-dev
    libudev-dev
    gfortran libcjson-dev
)

LUMEN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export LUMEN_ROOT

lumen_missing_packages() {
    local p
    for p in "${LUMEN_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
            printf '%s\n' "$p"
        fi
    done
}

lumen_install_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: this is not a Debian-like system (no dpkg/apt-get); install by hand:" >&2
        echo "setup:   a C17 compiler, CMake >= 3.25, pkg-config, Open MPI (or MPICH), hwloc" >&2
        return 0 # let the configure step say what is really missing
    fi
    local missing
    mapfile -t missing < <(lumen_missing_packages)
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "setup: all Debian packages present (${#LUMEN_PACKAGES[@]} checked)"
        return 0
    fi
    echo "setup: missing Debian packages: ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            echo "setup: not root and no passwordless sudo; run this, then run me again:" >&2
            echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
            return 1
        fi
    fi
    local t0=$SECONDS
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q || return 1
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" || return 1
    echo "setup: installed ${#missing[@]} packages in $((SECONDS - t0)) s"
}

# Debian packages of the peer systems bench/compare.sh compares lumen with
# (mpi4py.futures, dask.distributed, StarPU). Not installed by lumen_setup and
# not needed by the build or the tests: `bench/compare.sh --install` installs them.
lumen_peer_packages() {
    printf '%s\n' python3-mpi4py python3-distributed libstarpu-dev
}

# "openmpi" | "mpich" | "unknown", from the launcher's --version
lumen_mpi_flavor() {
    local v
    v="$("$1" --version 2>&1 | head -n 5)"
    case "$v" in
        *"Open MPI"* | *OpenRTE*) echo openmpi ;;
        *HYDRA* | *MPICH* | *Hydra*) echo mpich ;;
        *) echo unknown ;;
    esac
}

# launcher flags for NP ranks on this machine (after -n NP)
lumen_launch_args() {
    local mpiexec="$1" np="$2"
    if [ "$(lumen_mpi_flavor "$mpiexec")" = openmpi ] && [ "$np" -gt "$(nproc)" ]; then
        echo --oversubscribe
    fi
}

# CMake flags that pin an MPI flavour, when Debian's per-flavour names exist
# (so the result does not depend on where /etc/alternatives points).
lumen_openmpi_cmake_args() {
    if [ -x /usr/bin/mpicc.openmpi ] && [ -x /usr/bin/mpiexec.openmpi ]; then
        echo "-DMPI_C_COMPILER=/usr/bin/mpicc.openmpi -DMPIEXEC_EXECUTABLE=/usr/bin/mpiexec.openmpi"
    fi
}

lumen_mpich_cmake_args() {
    local cc exe
    cc="$(command -v mpicc.mpich || true)"
    exe="$(command -v mpiexec.mpich || command -v mpiexec.hydra || true)"
    if [ -z "$cc" ] || [ -z "$exe" ]; then
        return 1
    fi
    echo "-DMPI_C_COMPILER=$cc -DMPIEXEC_EXECUTABLE=$exe"
}

# Environment for mpirun. Open MPI refuses to run as root unless told; both
# variables are needed, and they are harmless for other users and for MPICH.
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

lumen_setup() {
    lumen_install_packages || return 1
    local tool
    for tool in cmake cc pkg-config mpicc mpiexec; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "setup: '$tool' not found after installing packages" >&2
            return 1
        fi
    done
    echo "setup: $(cmake --version | head -n 1), $(cc --version | head -n 1)"
    echo "setup: mpiexec is $(readlink -f "$(command -v mpiexec)") ($(lumen_mpi_flavor mpiexec)), $(nproc) cores"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    # run as a program
    set -euo pipefail
    lumen_setup
fi
