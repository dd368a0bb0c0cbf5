#!/usr/bin/env bash
# scripts/test.sh - from a fresh Debian 12 machine to lumen's whole test suite:
# installs the missing Debian packages (scripts/setup.sh), then builds and runs
# ctest in four passes, each in its own build folder:
#
#   1. openmpi  Open MPI, -DLUMEN_WERROR=ON                      build-ci/
#   2. asan     AddressSanitizer + UBSan (with LeakSanitizer)    build-asan/
#   3. mpich    MPICH instead of Open MPI, -DLUMEN_WERROR=ON,    build-mpich/
#               each rank its own node, the MPI transport
#   4. pernode  Open MPI, each rank its own node, UCX (no Slurm) build-pernode/
#
# Transports: openmpi and asan run the suite with the UCX data plane (the
# default when libucx is found) on one shared store per host, plus
# *_pernode_mpi variants of the cross-node object tests; mpich runs the whole
# suite with each rank its own node on LUMEN_TRANSPORT=mpi (plus
# *_pernode_ucx variants), pernode the whole suite with each rank its own
# node on UCX: every object a rank did not make crosses the transport.
#
#   scripts/test.sh                   all four passes (what CI runs)
#   scripts/test.sh --quick           pass 1 only, for local iteration
#   scripts/test.sh --pass asan       only the named pass(es); repeatable
#   scripts/test.sh -- -R store       arguments after -- go to every ctest
#
# Every pass runs even if an earlier one failed; the script exits non-zero if
# any pass failed and ends with a summary: the time, the test counts and the
# result of each pass.
#
# Environment: LUMEN_BUILD_PREFIX (default <repo>/build: folders build-ci,
# build-asan, build-mpich), LUMEN_CTEST_JOBS (default: the number of cores).
set -uo pipefail

# shellcheck source=scripts/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

usage() {
    sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

passes=()
ctest_extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) passes=(openmpi) ;;
        --pass)
            shift
            case "${1:-}" in
                openmpi | asan | mpich | pernode) passes+=("$1") ;;
                *) echo "test.sh: --pass takes openmpi, asan, mpich or pernode" >&2; exit 2 ;;
            esac
            ;;
        -h | --help) usage; exit 0 ;;
        --) shift; ctest_extra=("$@"); break ;;
        *) echo "test.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ ${#passes[@]} -gt 0 ] || passes=(openmpi asan mpich pernode)

prefix="${LUMEN_BUILD_PREFIX:-$LUMEN_ROOT/build}"
jobs="${LUMEN_CTEST_JOBS:-$(nproc)}"
t_start=$SECONDS

banner() {
    echo
    echo "================================================================================"
    echo "== $*"
    echo "================================================================================"
}

banner "setup"
if ! lumen_setup; then
    echo "test.sh: setup failed" >&2
    exit 1
fi
t_setup=$((SECONDS - t_start))

# LeakSanitizer stays on for lumen's code. Open MPI (and the libraries it
# loads) keep memory until exit and dlclose their plugins, so leak reports
# from inside MPI are suppressed by module (scripts/lsan.supp); the slow
# unwinder gives every leak its full stack, so a plugin's leak still shows
# the libmpi frame that called it.
asan_env=(
    # intercept_tls_get_addr=0: GCC 12's __tls_get_addr interceptor misreads
    # some dynamic TLS blocks and LeakSanitizer's tracer faults on them at
    # exit (tests/CMakeLists.txt says more)
    "ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:allocator_may_return_null=1:abort_on_error=0:intercept_tls_get_addr=0"
    "LSAN_OPTIONS=suppressions=$LUMEN_ROOT/scripts/lsan.supp:print_suppressions=0"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
    # UCX's memory hooks and file system thread stay off under the
    # sanitizers (tests/CMakeLists.txt says why); ctest sets these too
    "UCX_VFS_ENABLE=n" "UCX_MEM_EVENTS=no" "UCX_MEM_MALLOC_HOOKS=no"
)

declare -A result seconds counts

# run_pass NAME BUILD_DIR [cmake args...]
run_pass() {
    local name="$1" dir="$2"
    shift 2
    local t0=$SECONDS env=()
    [ "$name" = asan ] && env=("${asan_env[@]}")
    banner "pass '$name': configure ($dir)"
    echo "cmake -S $LUMEN_ROOT -B $dir $*"
    if ! cmake -S "$LUMEN_ROOT" -B "$dir" "$@"; then
        result[$name]="FAIL (configure)"
        seconds[$name]=$((SECONDS - t0))
        return 1
    fi
    banner "pass '$name': build"
    if ! cmake --build "$dir" -j "$(nproc)"; then
        result[$name]="FAIL (build)"
        seconds[$name]=$((SECONDS - t0))
        return 1
    fi
    # the real Slurm cluster tests run in the openmpi and asan passes; with
    # each rank its own node they would test nothing more (75 s saved)
    local own=()
    [ "$name" = pernode ] && own=(-LE slurm)
    banner "pass '$name': ctest -j $jobs ${own[*]} ${ctest_extra[*]}"
    local rc=0
    (cd "$dir" && env "${env[@]}" ctest --output-on-failure --no-tests=error -j "$jobs" \
        "${own[@]}" "${ctest_extra[@]}") 2>&1 | tee "$dir/ctest-output.log" || rc=$?
    seconds[$name]=$((SECONDS - t0))
    local line
    line="$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$dir/ctest-output.log" | tail -n 1)"
    if [ -n "$line" ]; then
        local failed total
        failed="$(sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")"
        total="$(sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")"
        # ctest counts a skipped test (exit 77: no GPU, no Slurm) as not
        # failed; it is shown apart, never as passed
        local skipped
        skipped="$(grep -cE '^[[:space:]]*[0-9]+ - .*\(Skipped\)$' "$dir/ctest-output.log")"
        counts[$name]="$((total - failed - skipped)) $failed $skipped"
    fi
    if [ "$rc" -ne 0 ] && [ "$name" = asan ] && retry_tracer_crashes "$dir"; then
        counts[$name]="$((${total:-0} - ${skipped:-0})) 0 ${skipped:-0}"
        seconds[$name]=$((SECONDS - t0))
        rc=0
    fi
    if [ "$rc" -ne 0 ]; then
        result[$name]="FAIL (ctest)"
        return 1
    fi
    result[$name]="PASS"
}

# tracer_crash_tests DIR: the failed tests of the last ctest run in DIR whose
# only fault is LeakSanitizer's own tracer dying at exit ("LeakSanitizer has
# encountered a fatal error", after "Tracer caught signal"): a crash inside the
# sanitizer, not a leak or a memory error in lumen. Prints nothing (and
# returns 1) if any failed test failed for another reason.
tracer_crash_tests() {
    awk '
        / Testing: /                { name = $3; out = ""; next }
        /^Test Failed\./            { failed[name] = out; next }
        { out = out "\n" $0 }
        END {
            n = 0
            for (t in failed) {
                o = failed[t]
                if (o !~ /LeakSanitizer has encountered a fatal error/ ||
                    o ~ /detected memory leaks|ERROR: AddressSanitizer|runtime error:/)
                    exit 1
                names[n++] = t
            }
            for (i = 0; i < n; i++) print names[i]
        }' "$1/Testing/Temporary/LastTest.log"
}

# retry_tracer_crashes DIR: runs the tests that failed only because
# LeakSanitizer's tracer crashed once more, and says so; succeeds if they pass.
retry_tracer_crashes() {
    local dir="$1" names
    names="$(tracer_crash_tests "$dir")" || return 1
    [ -n "$names" ] || return 1
    local re
    re="^($(paste -sd'|' <<<"$names"))\$"
    echo "test.sh: LeakSanitizer's tracer crashed at exit in: $(paste -sd' ' <<<"$names")"
    echo "test.sh: that is a fault of the sanitizer, not a leak; running those tests once more"
    (cd "$dir" && env "${asan_env[@]}" ctest --output-on-failure -R "$re") 2>&1 |
        tee -a "$dir/ctest-output.log"
}

status=0
for p in "${passes[@]}"; do
    case "$p" in
        openmpi)
            pin=()
            [ -f "$prefix-ci/CMakeCache.txt" ] || read -r -a pin <<<"$(lumen_openmpi_cmake_args)"
            run_pass openmpi "$prefix-ci" -DLUMEN_WERROR=ON "${pin[@]}" || status=1
            ;;
        asan)
            pin=()
            [ -f "$prefix-asan/CMakeCache.txt" ] || read -r -a pin <<<"$(lumen_openmpi_cmake_args)"
            # no -Werror here: sanitizer instrumentation makes GCC's flow
            # warnings noisier; the openmpi pass is the warnings gate
            run_pass asan "$prefix-asan" -DLUMEN_SANITIZER=address,undefined -DLUMEN_BUILD_BENCH=OFF \
                "${pin[@]}" || status=1
            ;;
        mpich)
            if ! mpich_args="$(lumen_mpich_cmake_args)"; then
                echo "test.sh: MPICH not found (mpicc.mpich / mpiexec.mpich); install mpich libmpich-dev" >&2
                result[mpich]="FAIL (no MPICH)"
                seconds[mpich]=0
                status=1
                continue
            fi
            read -r -a pin <<<"$mpich_args"
            # the whole suite on the MPI transport here, each rank its own
            # node, so every test moves its objects over MPI
            run_pass mpich "$prefix-mpich" -DLUMEN_WERROR=ON -DLUMEN_TEST_TRANSPORT=mpi -DLUMEN_TEST_RANK_IS_NODE=ON \
                "${pin[@]}" || status=1
            ;;
        pernode)
            pin=()
            [ -f "$prefix-pernode/CMakeCache.txt" ] || read -r -a pin <<<"$(lumen_openmpi_cmake_args)"
            # the whole suite with each rank its own node on the default
            # transport (UCX): the openmpi pass's build settings otherwise
            run_pass pernode "$prefix-pernode" -DLUMEN_WERROR=ON -DLUMEN_TEST_RANK_IS_NODE=ON -DLUMEN_BUILD_BENCH=OFF \
                "${pin[@]}" || status=1
            ;;
    esac
done

banner "summary"
total_pass=0
total_fail=0
total_skip=0
printf '  %-10s %-18s %-22s %s\n' pass result "tests ok/failed/skipped" time
printf '  %-10s %-18s %-22s %s\n' setup "done" "" "${t_setup} s"
for p in "${passes[@]}"; do
    c="${counts[$p]:-}"
    shown="-"
    if [ -n "$c" ]; then
        read -r ok bad skip <<<"$c"
        shown="$ok/$bad/$skip"
        total_pass=$((total_pass + ok))
        total_fail=$((total_fail + bad))
        total_skip=$((total_skip + skip))
    fi
    printf '  %-10s %-18s %-22s %s\n' "$p" "${result[$p]:-not run}" "$shown" "${seconds[$p]:-0} s"
done
echo "  total time: $((SECONDS - t_start)) s"
if [ "$status" -ne 0 ]; then
    echo "test.sh: FAILED (see the pass headers above)"
fi
echo "lumen: $total_pass passed, $total_fail failed, $total_skip skipped"
exit "$status"
