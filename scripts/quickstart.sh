#!/usr/bin/env bash
# scripts/quickstart.sh - from a fresh Debian 12 machine to lumen's quickstart
# example running on 4 local MPI ranks: installs the missing Debian packages
# (scripts/setup.sh), configures and builds, then runs the example.
#
#   scripts/quickstart.sh [EXAMPLE] [NP]      defaults: quickstart 4
#   scripts/quickstart.sh monte_carlo_pi      the Monte Carlo pi estimate
#
# Environment: LUMEN_BUILD_DIR (default: <repo>/build).
set -euo pipefail

# shellcheck source=scripts/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

example="${1:-quickstart}"
np="${2:-4}"
build="${LUMEN_BUILD_DIR:-$LUMEN_ROOT/build}"

lumen_setup

echo "== configure + build ($build)"
pin=()
if [ ! -f "$build/CMakeCache.txt" ]; then
    # first configure: use Debian's Open MPI explicitly (the default flavour)
    read -r -a pin <<<"$(lumen_openmpi_cmake_args)"
fi
cmake -S "$LUMEN_ROOT" -B "$build" "${pin[@]}"
cmake --build "$build" --target "$example" -j "$(nproc)"

mpiexec="$(sed -n 's/^MPIEXEC_EXECUTABLE:[A-Z]*=//p' "$build/CMakeCache.txt")"
mpiexec="${mpiexec:-mpiexec}"
read -r -a extra <<<"$(lumen_launch_args "$mpiexec" "$np")"
cmd=("$mpiexec" -n "$np" "${extra[@]}" "$build/examples/$example")
echo "== ${cmd[*]}"
"${cmd[@]}"
