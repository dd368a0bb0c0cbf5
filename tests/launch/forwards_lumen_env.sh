#!/usr/bin/env bash
# launch_forwards_lumen_env: on Open MPI every LUMEN_* and UCX_* variable is
# named with -x (lumen-run's own LUMEN_MPIEXEC and LUMEN_RUN_* are not); MPICH
# forwards the whole environment by default, so no flag is added there; and a
# real run's ranks see LUMEN_FOO.
. "$(dirname "$0")/lib.sh"

while read -r flavor mpiexec; do
    t="$flavor ($mpiexec)"
    lr LUMEN_MPIEXEC="$mpiexec" LUMEN_FOO=1 LUMEN_BAR='a b' UCX_TLS=self LUMEN_RUN_CORES=2 \
        -- --dry-run -n 2 ./app
    is_rc "$t" "$rc" 0
    case $flavor in
        openmpi)
            has "$t" "$out" "-x LUMEN_FOO"
            has "$t" "$out" "-x LUMEN_BAR"
            has "$t" "$out" "-x UCX_TLS"
            lacks "$t" "$out" "-x LUMEN_MPIEXEC"
            lacks "$t" "$out" "-x LUMEN_RUN_CORES"
            ;;
        mpich) lacks "$t" "$out" "-x" ;;
    esac
    # the program and its arguments come last, untouched
    ends "$t" "$out" " ./app"
done < <(launchers)

# what the fake launcher was started with: the variables are in its environment
lr LUMEN_MPIEXEC="$FAKE_OPENMPI" FAKE_LOG="$TMP/log" LUMEN_FOO=1 -- -n 1 ./app
is_rc "fake openmpi run" "$rc" 0
grep -qx 'LUMEN_FOO=1' "$TMP/log.env" || fail "fake openmpi run: LUMEN_FOO=1 not in the launcher's environment"

# a real run: each rank prints the variable
if [ "$REAL_FLAVOR" != unknown ]; then
    lr LUMEN_MPIEXEC="$REAL_MPIEXEC" LUMEN_FOO=1 -- -n 2 printenv LUMEN_FOO
    is_rc "real run" "$rc" 0
    [ "$out" = "$(printf '1\n1')" ] || fail "real run: expected LUMEN_FOO=1 on 2 ranks, got: $out"
fi
finish
