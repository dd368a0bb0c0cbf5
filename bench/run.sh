#!/bin/sh
# bench/run.sh - run lumen's microbenchmark (bench/microbench.c) on 2 ranks and
# print every figure in Ray's `ray microbenchmark` format.
#
#   bench/run.sh [BUILD_DIR] [extra microbench options, e.g. --detail]
#
# BUILD_DIR (default: build) must already hold bench/microbench, e.g.
#   cmake -S . -B build && make -C build microbench
#
# Two invocations of the same binary:
#   1. one shared store per host (lumen's default): tasks, put/get calls,
#      1 GiB put, actor calls, placement groups, with the MPI ping-pong and
#      memcpy anchors;
#   2. LUMEN_RANK_IS_NODE=1 (each rank its own node and store): the cross
#      rank get of a 256 MiB object, with the MPI point-to-point anchor.
# Each invocation measures its own anchors, so every ratio compares figures
# taken in the same run.
set -eu

BUILD=${1:-build}
[ $# -gt 0 ] && shift
BIN=$BUILD/bench/microbench
if [ ! -x "$BIN" ]; then
    echo "run.sh: $BIN not found; build it first: make -C $BUILD microbench" >&2
    exit 1
fi

# mpirun as root (containers, CI) and more ranks than cores must just work
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=${MPIRUN:-mpirun}
NP=${NP:-2}
TIMEOUT=${TIMEOUT:-90}

run() {
    if command -v timeout >/dev/null 2>&1; then
        timeout "$TIMEOUT" "$MPIRUN" --oversubscribe -np "$NP" "$@"
    else
        "$MPIRUN" --oversubscribe -np "$NP" "$@"
    fi
}

# LUMEN_TRANSPORT=ucx|mpi (default: lumen's, ucx when built with UCX) picks the
# data plane of the cross rank get. CROSS_ONLY=1 runs the second invocation only.
XTRANSPORT=""
[ -n "${LUMEN_TRANSPORT:-}" ] && XTRANSPORT="-x LUMEN_TRANSPORT"

# 1 GiB put: a store of 2 GiB whose first 1.25 GiB are faulted at init (in the
# background; the benchmark waits for it), so the put copies into resident
# pages, as a long-running job's recycled store memory is.
if [ "${CROSS_ONLY:-0}" != 1 ]; then
    LUMEN_STORE_CAPACITY=${LUMEN_STORE_CAPACITY:-2G} \
    LUMEN_STORE_PREFAULT=${LUMEN_STORE_PREFAULT:-1280M} \
        run -x LUMEN_STORE_CAPACITY -x LUMEN_STORE_PREFAULT "$BIN" "$@"
fi

# cross rank get: every rank its own store; the driver's copy lands in its
# store, whose first 512 MiB are faulted at init. The cross rank device get
# (lumen/device.h) runs on CUDA where there is a GPU, else on the emulated
# backend (host memory standing in for a device: it measures lumen's staging).
if [ -z "${LUMEN_DEVICE:-}" ] && ! command -v nvidia-smi >/dev/null 2>&1; then
    LUMEN_DEVICE=emulated
fi
XDEVICE=""
[ -n "${LUMEN_DEVICE:-}" ] && export LUMEN_DEVICE && XDEVICE="-x LUMEN_DEVICE"
[ -n "${LUMEN_DEVICE_DIRECT:-}" ] && XDEVICE="$XDEVICE -x LUMEN_DEVICE_DIRECT"
LUMEN_RANK_IS_NODE=1 \
LUMEN_STORE_CAPACITY=${LUMEN_STORE_CAPACITY_CROSS:-1G} \
LUMEN_STORE_PREFAULT=${LUMEN_STORE_PREFAULT_CROSS:-512M} \
    run -x LUMEN_RANK_IS_NODE -x LUMEN_STORE_CAPACITY -x LUMEN_STORE_PREFAULT $XTRANSPORT $XDEVICE "$BIN" --cross-only "$@"
