#!/usr/bin/env bash
# launch_oversubscribes_beyond_cores: with more ranks than cores, lumen-run
# warns on stderr (ranks, cores) and does not bind; on Open MPI it adds
# --oversubscribe --bind-to none (MPICH runs them without a flag).
. "$(dirname "$0")/lib.sh"

while read -r flavor mpiexec; do
    t="$flavor ($mpiexec)"
    lr LUMEN_MPIEXEC="$mpiexec" LUMEN_RUN_CORES=2 -- --dry-run -n 3 ./app
    is_rc "$t, 3 ranks on 2 cores" "$rc" 0
    contains "$t, 3 ranks on 2 cores: warning" "$err" "lumen-run: warning: 3 ranks on 2 cores"
    contains "$t, 3 ranks on 2 cores: warning" "$err" "share cores"
    lacks "$t, 3 ranks on 2 cores" "$out" core
    case $flavor in
        openmpi) has "$t, 3 ranks on 2 cores" "$out" "-np 3 --oversubscribe --bind-to none" ;;
        mpich)
            has "$t, 3 ranks on 2 cores" "$out" "-n 3"
            lacks "$t, 3 ranks on 2 cores" "$out" --oversubscribe
            ;;
    esac

    # with the detected cores: far more ranks than any test machine has
    lr LUMEN_MPIEXEC="$mpiexec" -- --dry-run -n 100000 ./app
    is_rc "$t, 100000 ranks" "$rc" 0
    contains "$t, 100000 ranks: warning" "$err" "lumen-run: warning: 100000 ranks on "
    [ "$flavor" = openmpi ] && has "$t, 100000 ranks" "$out" --oversubscribe
done < <(launchers)
finish
