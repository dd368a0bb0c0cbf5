#!/usr/bin/env bash
# launch_lets_open_mpi_run_as_root: as root, lumen-run gives Open MPI's mpirun
# OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 (shown first on
# the --dry-run line, and in the launcher's environment); not for MPICH, and
# not for other users.
. "$(dirname "$0")/lib.sh"

allow='OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1'
for flavor in openmpi mpich; do
    fake=$FAKE_OPENMPI
    [ "$flavor" = mpich ] && fake=$FAKE_MPICH
    lr LUMEN_MPIEXEC="$fake" FAKE_LOG="$TMP/log" -- -n 1 ./app
    is_rc "$flavor run" "$rc" 0
    lr LUMEN_MPIEXEC="$fake" -- --dry-run -n 1 ./app
    is_rc "$flavor dry run" "$rc" 0
    if [ "$flavor" = openmpi ] && [ "$(id -u)" -eq 0 ]; then
        case $out in "$allow $fake "*) ;; *) fail "$flavor as root: the dry run does not start with '$allow': $out" ;; esac
        grep -qx OMPI_ALLOW_RUN_AS_ROOT=1 "$TMP/log.env" || fail "$flavor as root: OMPI_ALLOW_RUN_AS_ROOT=1 not set for the launcher"
        grep -qx OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "$TMP/log.env" || fail "$flavor as root: OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 not set for the launcher"
    else
        omits "$flavor as uid $(id -u)" "$out" OMPI_ALLOW_RUN_AS_ROOT
        ! grep -q '^OMPI_ALLOW_RUN_AS_ROOT' "$TMP/log.env" || fail "$flavor as uid $(id -u): OMPI_ALLOW_RUN_AS_ROOT* set for the launcher"
    fi
done
echo "ran as uid $(id -u)"
finish
