#!/usr/bin/env bash
# launch_rejects_bad_arguments: an unknown option, a bad rank count (not a
# number, 0, negative, missing), no program, an unknown --mpi and bad
# LUMEN_RUN_* settings each fail with exit status 2 and a message naming the
# problem (unknown options and missing values also print the usage); -h prints
# the usage and succeeds.
. "$(dirname "$0")/lib.sh"

export LUMEN_MPIEXEC=$FAKE_OPENMPI

lr -- --frobnicate ./app
is_rc "unknown option" "$rc" 2
contains "unknown option" "$err" "unknown option '--frobnicate'"
contains "unknown option" "$err" "usage: lumen-run"
is_empty "unknown option: stdout" "$out"

for n in abc 0 -1 2x 00 ''; do
    lr -- --dry-run -n "$n" ./app
    is_rc "-n '$n'" "$rc" 2
    contains "-n '$n'" "$err" "bad number of ranks '$n'"
    is_empty "-n '$n': stdout" "$out"
done
lr -- --dry-run -np 0 ./app
contains "-np 0" "$err" "bad number of ranks '0'"
lr -- --dry-run -n
is_rc "-n with no value" "$rc" 2
contains "-n with no value" "$err" "-n needs a number of ranks"

lr -- --dry-run -n 2
is_rc "no program" "$rc" 2
contains "no program" "$err" "no program to run"
contains "no program" "$err" "usage: lumen-run"

lr -- --dry-run --mpi lam ./app
is_rc "--mpi lam" "$rc" 2
contains "--mpi lam" "$err" "unknown MPI 'lam'"

lr LUMEN_RUN_BIND=socket -- --dry-run ./app
is_rc "LUMEN_RUN_BIND=socket" "$rc" 2
contains "LUMEN_RUN_BIND=socket" "$err" "LUMEN_RUN_BIND=socket: use core or none"
lr LUMEN_RUN_CORES=many -- --dry-run ./app
is_rc "LUMEN_RUN_CORES=many" "$rc" 2
contains "LUMEN_RUN_CORES=many" "$err" "LUMEN_RUN_CORES=many"

# options after the program belong to the program
lr -- --dry-run -n 1 ./app --frobnicate -n 0
is_rc "options after the program" "$rc" 0
ends "options after the program" "$out" " ./app --frobnicate -n 0"
lr -- --dry-run -n 1 -- -app-with-dash
is_rc "-- before the program" "$rc" 0
ends "-- before the program" "$out" " -app-with-dash"

lr -- --help
is_rc "--help" "$rc" 0
contains "--help" "$out" "usage: lumen-run"
finish
