#!/usr/bin/env bash
# launch_finds_or_reports_launcher: which launcher lumen-run runs, and what it
# says when there is none.
#  - LUMEN_MPIEXEC pointing nowhere (/nonexistent, or a name not on PATH):
#    exit 127 and a message naming the variable;
#  - no mpirun/mpiexec on PATH (and no build default): exit 127, a message
#    saying what was looked for and how to install one;
#  - --mpi mpich with only Open MPI's mpirun on PATH: exit 127, "no mpich launcher";
#  - --mpi picks the launcher of that flavour among those on PATH; without it,
#    mpirun comes before mpiexec;
#  - the build-tree copy uses the launcher the build was configured with
#    (LAUNCH_TEST_BUILD_MPIEXEC) before PATH.
. "$(dirname "$0")/lib.sh"

for x in /nonexistent no-such-mpirun-anywhere; do
    for dry in --dry-run ''; do
        lr LUMEN_MPIEXEC="$x" -- $dry -n 2 ./app
        is_rc "LUMEN_MPIEXEC=$x $dry" "$rc" 127
        contains "LUMEN_MPIEXEC=$x $dry" "$err" "LUMEN_MPIEXEC=$x: no such executable"
        is_empty "LUMEN_MPIEXEC=$x $dry: stdout" "$out"
    done
done

# a PATH with the tools lumen-run uses and no MPI; a copy of lumen-run with no
# build default
tools=$TMP/tools
mkdir -p "$tools"
for t in bash env timeout sort awk nproc cat getconf; do
    p=$(type -P "$t") && ln -s "$p" "$tools/$t"
done
sed 's|^LUMEN_RUN_BUILD_MPIEXEC=.*|LUMEN_RUN_BUILD_MPIEXEC=|' "$LUMEN_RUN" >"$TMP/lumen-run"
chmod +x "$TMP/lumen-run"
bare() { # PATH -- lumen-run args: the copy, with LUMEN_MPIEXEC unset
    local path=$1
    shift 2
    out=$(env -u LUMEN_MPIEXEC PATH="$path" "$TMP/lumen-run" "$@" 2>"$TMP/stderr")
    rc=$?
    err=$(cat "$TMP/stderr")
}

bare "$tools" -- --dry-run -n 2 ./app
is_rc "no launcher on PATH" "$rc" 127
contains "no launcher on PATH" "$err" "no MPI launcher found (looked for: mpirun mpiexec)"
contains "no launcher on PATH" "$err" "apt-get install openmpi-bin"
contains "no launcher on PATH" "$err" "LUMEN_MPIEXEC"
bare "$tools" -- -n 2 ./app
is_rc "no launcher on PATH, no dry run" "$rc" 127

# Open MPI's mpirun and MPICH's mpiexec on PATH
both=$TMP/both
make_fake "$both" mpirun openmpi
make_fake "$both" mpiexec mpich
bare "$both:$tools" -- --dry-run -n 2 ./app
is_rc "default pick" "$rc" 0
contains "default pick" "$out" "$both/mpirun -np 2 "
bare "$both:$tools" -- --dry-run --mpi mpich -n 2 ./app
is_rc "--mpi mpich" "$rc" 0
case $out in "$both/mpiexec -n 2 "*) ;; *) fail "--mpi mpich: expected $both/mpiexec first in: $out" ;; esac
bare "$both:$tools" -- --dry-run --mpi=openmpi -n 2 ./app
contains "--mpi=openmpi" "$out" "$both/mpirun -np 2 "

bare "$TMP/fake-openmpi:$tools" -- --dry-run --mpi mpich -n 2 ./app
is_rc "--mpi mpich with only Open MPI" "$rc" 127
contains "--mpi mpich with only Open MPI" "$err" "no mpich launcher found"

# --mpi names the flavour of a LUMEN_MPIEXEC whose --version says nothing useful
printf '#!/bin/sh\nexit 0\n' >"$TMP/silent"
chmod +x "$TMP/silent"
lr LUMEN_MPIEXEC="$TMP/silent" -- --dry-run -n 1 ./app
contains "unknown flavour" "$err" "cannot tell which MPI"
has "unknown flavour" "$out" "$TMP/silent -n 1 ./app"
lr LUMEN_MPIEXEC="$TMP/silent" LUMEN_RUN_CORES=2 -- --dry-run --mpi mpich -n 2 ./app
is_empty "--mpi mpich for an unknown launcher: stderr" "$err"
has "--mpi mpich for an unknown launcher" "$out" "-n 2 -bind-to core"

# the build's launcher comes first in the build-tree copy
if [ -n "${LAUNCH_TEST_BUILD_MPIEXEC:-}" ]; then
    out=$(env -u LUMEN_MPIEXEC PATH="$tools" "$LUMEN_RUN" --dry-run -n 1 ./app 2>"$TMP/stderr")
    rc=$? err=$(cat "$TMP/stderr")
    is_rc "build default" "$rc" 0
    contains "build default" "$out" "$LAUNCH_TEST_BUILD_MPIEXEC -n"
fi
finish
