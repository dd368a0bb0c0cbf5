#!/usr/bin/env bash
# launch_binds_when_ranks_fit: with no more ranks than cores, lumen-run binds
# each rank to an equal share of the cores (one core each when N = cores:
# Open MPI --bind-to core --map-by core, MPICH -bind-to core; k cores each
# when N is smaller: --map-by slot:PE=k, -bind-to core:k), adds no
# --oversubscribe and warns about nothing; LUMEN_RUN_BIND=none turns binding off.
. "$(dirname "$0")/lib.sh"

while read -r flavor mpiexec; do
    t="$flavor ($mpiexec)"
    case $flavor in
        openmpi) bind='--bind-to core' one='--bind-to core --map-by core' four='--bind-to core --map-by slot:PE=4' np=-np ;;
        mpich) bind='-bind-to core' one='-bind-to core' four='-bind-to core:4' np=-n ;;
    esac

    # N = cores: one core per rank
    lr LUMEN_MPIEXEC="$mpiexec" LUMEN_RUN_CORES=2 -- --dry-run -n 2 ./app arg
    is_rc "$t, 2 ranks on 2 cores" "$rc" 0
    has "$t, 2 ranks on 2 cores" "$out" "$mpiexec $np 2"
    has "$t, 2 ranks on 2 cores" "$out" "$one"
    ends "$t, 2 ranks on 2 cores" "$out" " ./app arg"
    lacks "$t, 2 ranks on 2 cores" "$out" --oversubscribe
    is_empty "$t, 2 ranks on 2 cores: stderr" "$err"

    # N < cores: an equal share each (9 / 2 = 4)
    lr LUMEN_MPIEXEC="$mpiexec" LUMEN_RUN_CORES=9 -- --dry-run -n 2 ./app
    has "$t, 2 ranks on 9 cores" "$out" "$four"
    lacks "$t, 2 ranks on 9 cores" "$out" --oversubscribe

    # the detected cores: 1 rank always fits; with no -n, one rank per core
    lr LUMEN_MPIEXEC="$mpiexec" -- --dry-run -n 1 ./app
    is_rc "$t, 1 rank" "$rc" 0
    contains "$t, 1 rank" "$out" " $np 1 "
    contains "$t, 1 rank" "$out" "$bind"
    lacks "$t, 1 rank" "$out" --oversubscribe
    is_empty "$t, 1 rank: stderr" "$err"
    lr LUMEN_MPIEXEC="$mpiexec" -- --dry-run ./app
    has "$t, default -n" "$out" "$one"
    lacks "$t, default -n" "$out" --oversubscribe

    # binding off
    lr LUMEN_MPIEXEC="$mpiexec" LUMEN_RUN_BIND=none LUMEN_RUN_CORES=2 -- --dry-run -n 2 ./app
    is_rc "$t, LUMEN_RUN_BIND=none" "$rc" 0
    omits "$t, LUMEN_RUN_BIND=none" "$out" "$bind"
    lacks "$t, LUMEN_RUN_BIND=none" "$out" --oversubscribe
    [ "$flavor" = openmpi ] && has "$t, LUMEN_RUN_BIND=none" "$out" "--bind-to none"
done < <(launchers)
finish
