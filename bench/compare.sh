#!/usr/bin/env bash
# bench/compare.sh - lumen side by side with the systems a user would pick
# instead, on the same workloads, in one invocation, as one table.
#
#   bench/compare.sh [--install] [--build DIR] [--peers LIST] [--out DIR] [--reps N]
#
#   --install      apt-get the peer packages first (python3-mpi4py,
#                  python3-distributed, libstarpu-dev; Debian's archive only)
#   --build DIR    lumen's Release build folder (default build-bench); it is
#                  configured if missing and microbench + lumen_objects are
#                  (re)built with make
#   --peers LIST   comma-separated subset of mpi4py,dask,starpu (default all)
#   --out DIR      where the raw output of every run goes (default
#                  DIR/compare-<UTC time>)
#   --reps N       repetitions per peer figure (default 5; lumen's are 5)
#
# What runs, one after the other (2 ranks wherever MPI is involved):
#   lumen    bench/run.sh DIR: bench/microbench.c's two invocations (tasks,
#            actors, 1 GiB put with its memcpy anchor, MPI ping-pong anchor;
#            cross rank get of 256 MiB with the MPI point-to-point anchor of
#            that size), then bench/peers/lumen_objects (put + get of 1 MiB
#            and 256 MiB, with memcpy anchors of those sizes)
#   mpi4py   mpirun -np 2 /usr/bin/python3 -m mpi4py.futures bench/peers/mpi4py_bench.py
#   dask     /usr/bin/python3 bench/peers/dask_bench.py (LocalCluster, 2 processes x 1 thread)
#   starpu   bench/peers/starpu_bench.c, compiled against libstarpu, STARPU_NCPU=2
# A peer that is not installed is said so and skipped. Every program prints
# `<name> per second <mean> +- <stddev>` lines (Ray's format); this script
# parses them all the same way and prints one Markdown table: each workload,
# lumen's figure, each peer's figure with lumen/peer, and the anchor measured
# by lumen's own invocation with lumen/anchor. Cells are mean and the
# standard deviation in percent of the mean.
#
# Environment: PEER_PYTHON (default /usr/bin/python3, Debian's own: the
# Debian packages install for it, whatever python3 comes first on the PATH),
# MPIRUN (default mpirun), TIMEOUT (seconds per run, default 300).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=SCRIPTDIR/../scripts/setup.sh
source "$ROOT/scripts/setup.sh" # lumen_peer_packages, OMPI_ALLOW_RUN_AS_ROOT*

BUILD=build-bench
PEERS=mpi4py,dask,starpu
OUT=
REPS=5
INSTALL=0
PEER_PYTHON=${PEER_PYTHON:-/usr/bin/python3}
MPIRUN=${MPIRUN:-mpirun}
TIMEOUT=${TIMEOUT:-300}
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in bench/peers/

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case "$1" in
        --install) INSTALL=1 ;;
        --build) BUILD=$2; shift ;;
        --peers) PEERS=$2; shift ;;
        --out) OUT=$2; shift ;;
        --reps) REPS=$2; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "compare.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

cd "$ROOT"
say() { printf '# %s\n' "$*" >&2; }

# ---- --install: the peers' Debian packages --------------------------------------
if [ "$INSTALL" = 1 ]; then
    mapfile -t pkgs < <(lumen_peer_packages)
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            echo "compare.sh: not root and no passwordless sudo; run:" >&2
            echo "  sudo apt-get update && sudo apt-get install -y ${pkgs[*]}" >&2
            exit 1
        fi
    fi
    say "installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q >&2
    "${sudo[@]}" apt-get install -y -q "${pkgs[@]}" >&2
fi

# ---- which peers are there --------------------------------------------------------
want() { case ",$PEERS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
STARPU_PC=
for pc in starpu-1.4 starpu-1.3 starpu-1.2; do
    if pkg-config --exists "$pc" 2>/dev/null; then
        STARPU_PC=$pc
        break
    fi
done
declare -A STATE # peer -> ok | not installed (...) | not asked
check_peer() {
    local peer=$1 pkg=$2 test=$3
    if ! want "$peer"; then
        STATE[$peer]="not asked (--peers)"
    elif eval "$test" >/dev/null 2>&1; then
        STATE[$peer]=ok
    else
        STATE[$peer]="not installed"
        say "$peer: not installed (Debian package $pkg); skipped. bench/compare.sh --install installs it"
    fi
}
check_peer mpi4py python3-mpi4py "'$PEER_PYTHON' -c 'import mpi4py.futures'"
check_peer dask python3-distributed "'$PEER_PYTHON' -c 'import distributed'"
check_peer starpu libstarpu-dev "[ -n '$STARPU_PC' ]"

# ---- lumen's Release build ---------------------------------------------------------
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    say "configuring $BUILD (Release)"
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLUMEN_BUILD_TESTS=OFF \
        -DLUMEN_BUILD_EXAMPLES=OFF >&2
fi
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
[ "$BUILD_TYPE" = Release ] || say "warning: $BUILD is a '$BUILD_TYPE' build, not Release"
say "building microbench and lumen_objects in $BUILD"
make -C "$BUILD" -j2 microbench lumen_objects >/dev/null

OUT=${OUT:-$BUILD/compare-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
RESULTS=$OUT/results.tsv # system TAB name TAB mean TAB sd
: >"$RESULTS"

# `<name> per second <mean> +- <sd>` lines of FILE into RESULTS as SYSTEM;
# the first line of a name wins (run.sh prints the ping-pong anchor twice)
collect() {
    awk -v sys="$1" '
        / per second [0-9.eE+-]+ \+- [0-9.eE+-]+$/ {
            i = index($0, " per second ")
            name = substr($0, 1, i - 1)
            n = split(substr($0, i + 12), f, " ")
            if (!(name in seen)) { seen[name] = 1; printf "%s\t%s\t%s\t%s\n", sys, name, f[1], f[3] }
        }' "$2" >>"$RESULTS"
}

# run NAME LOG CMD...: run with a timeout, stdout to LOG, stderr to LOG.err
run() {
    local name=$1 log=$2
    shift 2
    local t0=$SECONDS
    say "running $name"
    if timeout "$TIMEOUT" "$@" >"$log" 2>"$log.err"; then
        say "$name: $((SECONDS - t0)) s"
        return 0
    fi
    say "$name FAILED after $((SECONDS - t0)) s; see $log.err"
    tail -n 5 "$log.err" >&2 || true
    return 1
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')

# ---- lumen (and the MPI / memcpy anchors it measures) -------------------------------
if run "lumen microbench (bench/run.sh $BUILD)" "$OUT/lumen-microbench.txt" \
    env TIMEOUT="$TIMEOUT" MPIRUN="$MPIRUN" bench/run.sh "$BUILD"; then
    collect lumen "$OUT/lumen-microbench.txt"
fi
if run "lumen put+get (bench/peers/lumen_objects)" "$OUT/lumen-objects.txt" \
    env LUMEN_STORE_CAPACITY=1G LUMEN_STORE_PREFAULT=768M \
    "$MPIRUN" --oversubscribe -np 2 -x LUMEN_STORE_CAPACITY -x LUMEN_STORE_PREFAULT \
    "$BUILD/bench/peers/lumen_objects"; then
    collect lumen "$OUT/lumen-objects.txt"
fi

# ---- peers ---------------------------------------------------------------------------
if [ "${STATE[mpi4py]}" = ok ]; then
    run "mpi4py.futures" "$OUT/mpi4py.txt" "$MPIRUN" --oversubscribe -np 2 \
        "$PEER_PYTHON" -m mpi4py.futures bench/peers/mpi4py_bench.py --reps "$REPS" ||
        STATE[mpi4py]=failed
    collect mpi4py "$OUT/mpi4py.txt"
fi
if [ "${STATE[dask]}" = ok ]; then
    run "dask.distributed" "$OUT/dask.txt" "$PEER_PYTHON" bench/peers/dask_bench.py \
        --reps "$REPS" || STATE[dask]=failed
    collect dask "$OUT/dask.txt"
fi
if [ "${STATE[starpu]}" = ok ]; then
    mkdir -p "$BUILD/peers"
    # shellcheck disable=SC2046 # pkg-config's flags are meant to split
    if cc -O2 -std=c17 -Wall -Wextra bench/peers/starpu_bench.c \
        $(pkg-config --cflags --libs "$STARPU_PC") -lm -o "$BUILD/peers/starpu_bench" \
        2>"$OUT/starpu-build.err"; then
        run "StarPU ($STARPU_PC)" "$OUT/starpu.txt" env STARPU_NCPU=2 STARPU_SILENT=1 \
            "$BUILD/peers/starpu_bench" --reps "$REPS" || STATE[starpu]=failed
        collect starpu "$OUT/starpu.txt"
    else
        say "StarPU: starpu_bench.c did not compile; see $OUT/starpu-build.err"
        STATE[starpu]=failed
    fi
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the table -----------------------------------------------------------------------
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "lumen \`$COMMIT\` ($BUILD, $BUILD_TYPE) vs peers, 2 ranks / 2 workers; $DATE"
echo "machine: nproc $(nproc), $CPU; load average before $LOAD_BEFORE, after $LOAD_AFTER"
echo "peers: mpi4py.futures ${STATE[mpi4py]}, dask.distributed ${STATE[dask]}, StarPU ${STATE[starpu]}; raw output in $OUT"
echo

# workload | lumen figure | peer figure (n/a: none) | anchor figure (from lumen's runs)
ROWS='sync empty task round trip (tasks/s)|single client tasks sync|single client tasks sync|mpi ping-pong round trips
async empty tasks (tasks/s)|single client tasks async|single client tasks async|
actor calls sync (calls/s)|1:1 actor calls sync|1:1 actor calls sync|mpi ping-pong round trips
actor calls async (calls/s)|1:1 actor calls async|1:1 actor calls async|
put+get 1 MiB (GB/s)|single client put+get 1 MiB gigabytes|single client put+get 1 MiB gigabytes|memcpy 1 MiB gigabytes
put+get 256 MiB (GB/s)|single client put+get 256 MiB gigabytes|single client put+get 256 MiB gigabytes|memcpy 256 MiB gigabytes
cross-rank get 256 MiB (GB/s)|cross rank get gigabytes|n/a|mpi point-to-point gigabytes'

printf '%s\n' "$ROWS" | awk -F'|' -v results="$RESULTS" \
    -v st_mpi4py="${STATE[mpi4py]}" -v st_dask="${STATE[dask]}" -v st_starpu="${STATE[starpu]}" '
    function fmt(m, s,   t, neg, out) {
        if (m >= 1000) {
            t = sprintf("%.0f", m); out = ""
            while (length(t) > 3) { out = "," substr(t, length(t) - 2) out; t = substr(t, 1, length(t) - 3) }
            t = t out
        } else if (m >= 10) t = sprintf("%.1f", m)
        else t = sprintf("%.2f", m)
        return m > 0 ? sprintf("%s ±%.0f%%", t, 100 * s / m) : t
    }
    function ratio(a, b) { return b > 0 ? (a / b >= 10 ? sprintf("%.0fx", a / b) : sprintf("%.2fx", a / b)) : "" }
    BEGIN {
        while ((getline line < results) > 0) {
            split(line, f, "\t"); mean[f[1] SUBSEP f[2]] = f[3]; sd[f[1] SUBSEP f[2]] = f[4]
        }
        np = split("mpi4py dask starpu", peer, " ")
        label["mpi4py"] = "mpi4py.futures"; label["dask"] = "dask.distributed"; label["starpu"] = "StarPU"
        state["mpi4py"] = st_mpi4py; state["dask"] = st_dask; state["starpu"] = st_starpu
        printf "| workload | lumen |"
        for (i = 1; i <= np; i++) printf " %s | lumen/%s |", label[peer[i]], label[peer[i]]
        print " anchor (same lumen run) | lumen/anchor |"
        printf "|---|---:|"
        for (i = 1; i <= np; i++) printf "---:|---:|"
        print "---|---:|"
    }
    {
        lk = "lumen" SUBSEP $2
        have = (lk in mean)
        printf "| %s | %s |", $1, have ? fmt(mean[lk], sd[lk]) : "failed"
        for (i = 1; i <= np; i++) {
            p = peer[i]; k = p SUBSEP $3
            if ($3 == "n/a") cell = "n/a"
            else if (state[p] != "ok" && state[p] != "failed") cell = state[p]
            else if (k in mean) cell = fmt(mean[k], sd[k])
            else if (state[p] == "failed") cell = "failed"
            else cell = "n/a"
            printf " %s | %s |", cell, (k in mean && have) ? ratio(mean[lk], mean[k]) : ""
        }
        ak = "lumen" SUBSEP $4
        if ($4 == "") printf " | |\n"
        else printf " %s: %s | %s |\n", $4, (ak in mean) ? fmt(mean[ak], sd[ak]) : "failed", \
            (ak in mean && have) ? ratio(mean[lk], mean[ak]) : ""
    }'
