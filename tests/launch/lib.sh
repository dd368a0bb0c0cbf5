# tests/launch/lib.sh - sourced by the lumen-run tests in this folder.
# shellcheck shell=bash
#
# Each test is `bash tests/launch/NAME.sh <build>/bin/lumen-run`, registered by
# launch.cmake with LUMEN_MPIEXEC (the build's launcher) and
# LAUNCH_TEST_MPI_FLAVOR (openmpi, mpich or unknown) in its environment. Checks
# run against the real launcher and against two fake ones (scripts that answer
# --version like Open MPI's mpirun or MPICH's hydra and record how they were
# run), so both flavours are covered in every build folder.
set -u

LUMEN_RUN=${1:?usage: bash NAME.sh path/to/lumen-run}
REAL_MPIEXEC=${LUMEN_MPIEXEC:-}
REAL_FLAVOR=${LAUNCH_TEST_MPI_FLAVOR:-unknown}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lumen-run-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
failures=0

# the launcher settings lumen-run is under test for: not inherited from ctest
unset OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_rmaps_base_oversubscribe
unset LUMEN_RUN_BIND LUMEN_RUN_CORES SLURM_JOB_ID SLURM_TASKS_PER_NODE SLURM_CPUS_PER_TASK

# make_fake DIR NAME FLAVOR: a fake launcher of FLAVOR (openmpi|mpich) as
# DIR/NAME. Run with anything but --version, it writes its arguments
# NUL-separated to $FAKE_LOG, its pid to $FAKE_LOG.pid and its environment to
# $FAKE_LOG.env, and exits with $FAKE_RC.
make_fake() {
    local banner
    case $3 in
        openmpi) banner='mpirun (Open MPI) 4.1.4\n\nReport bugs to http://www.open-mpi.org/community/help/' ;;
        mpich) banner='HYDRA build details:\n    Version:                                 4.0.2' ;;
    esac
    mkdir -p "$1"
    {
        echo '#!/usr/bin/env bash'
        echo "if [ \"\${1:-}\" = --version ]; then printf '$banner\\n'; exit 0; fi"
        echo 'log=${FAKE_LOG:-/dev/null}'
        echo 'printf "%s\0" "$@" >"$log"'
        echo 'echo "$$" >"$log.pid"'
        echo 'env >"$log.env"'
        echo 'exit "${FAKE_RC:-0}"'
    } >"$1/$2"
    chmod +x "$1/$2"
}
make_fake "$TMP/fake-openmpi" mpirun openmpi
make_fake "$TMP/fake-mpich" mpiexec mpich
FAKE_OPENMPI=$TMP/fake-openmpi/mpirun
FAKE_MPICH=$TMP/fake-mpich/mpiexec

# the launchers a check runs against, one "flavour path" a line: both fakes,
# and the build's launcher when its flavour is known
launchers() {
    echo "openmpi $FAKE_OPENMPI"
    echo "mpich $FAKE_MPICH"
    case $REAL_FLAVOR in
        openmpi | mpich) [ -n "$REAL_MPIEXEC" ] && echo "$REAL_FLAVOR $REAL_MPIEXEC" ;;
    esac
}

# lr [VAR=value ...] -- [lumen-run arguments]: runs lumen-run with those
# variables added, and sets $out, $err and $rc
lr() {
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        envs+=("$1")
        shift
    done
    shift
    out=$(env "${envs[@]}" "$LUMEN_RUN" "$@" 2>"$TMP/stderr")
    rc=$?
    err=$(cat "$TMP/stderr")
}

fail() {
    printf 'FAIL: %s\n' "$1" >&2
    failures=$((failures + 1))
}

# has/lacks WHAT TEXT WORDS: whether TEXT holds WORDS as whole words (so
# "-bind-to core" does not match "-bind-to core:4")
has() { case " $2 " in *" $3 "*) ;; *) fail "$1: expected '$3' in: $2" ;; esac }
lacks() { case " $2 " in *" $3 "*) fail "$1: did not expect '$3' in: $2" ;; esac }
# contains/omits/ends WHAT TEXT PIECE: PIECE anywhere in TEXT, or at its end
contains() { case $2 in *"$3"*) ;; *) fail "$1: expected '$3' in: $2" ;; esac }
ends() { case $2 in *"$3") ;; *) fail "$1: expected '$2' to end with '$3'" ;; esac }
omits() { case $2 in *"$3"*) fail "$1: did not expect '$3' in: $2" ;; esac }
is_rc() { [ "$2" = "$3" ] || fail "$1: exit status $2, expected $3 (stderr: $err)"; }
is_empty() { [ -z "$2" ] || fail "$1: expected nothing, got: $2"; }

finish() {
    if [ "$failures" -gt 0 ]; then
        echo "$failures check(s) failed" >&2
        exit 1
    fi
    echo "all checks passed"
}
