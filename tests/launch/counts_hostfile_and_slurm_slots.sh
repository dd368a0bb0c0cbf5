#!/usr/bin/env bash
# launch_counts_hostfile_and_slurm_slots: with --hostfile, the slots are the
# sum of the file's counts (Open MPI "slots=N", MPICH "host:N", a host with no
# count as many as this host's cores; comments and blank lines skipped), the
# file is passed on (--hostfile on Open MPI, -f on MPICH), and N beyond the
# slots oversubscribes; -n defaults to the slots. In a Slurm allocation the
# slots are the job's tasks (SLURM_TASKS_PER_NODE) and each rank is bound to
# SLURM_CPUS_PER_TASK cores. A missing or empty hostfile is an error.
. "$(dirname "$0")/lib.sh"

hf=$TMP/hosts
cat >"$hf" <<'EOF'
# the cluster
node01 slots=4 max_slots=8
node02:2

node03 slots = 3   # a comment
node04
EOF
# 4 + 2 + 3 + 5 (node04: LUMEN_RUN_CORES) = 14
while read -r flavor mpiexec; do
    t="$flavor ($mpiexec)"
    case $flavor in
        openmpi) pass="--hostfile $hf" one='--bind-to core --map-by core' np=-np ;;
        mpich) pass="-f $hf" one='-bind-to core' np=-n ;;
    esac
    lr LUMEN_MPIEXEC="$mpiexec" LUMEN_RUN_CORES=5 -- --dry-run --hostfile "$hf" -n 14 ./app
    is_rc "$t, 14 ranks on 14 slots" "$rc" 0
    has "$t, 14 ranks on 14 slots" "$out" "$pass"
    has "$t, 14 ranks on 14 slots" "$out" "$one"
    lacks "$t, 14 ranks on 14 slots" "$out" --oversubscribe
    is_empty "$t, 14 ranks on 14 slots: stderr" "$err"

    lr LUMEN_MPIEXEC="$mpiexec" LUMEN_RUN_CORES=5 -- --dry-run --hostfile="$hf" ./app
    has "$t, default -n with a hostfile" "$out" "$np 14"

    lr LUMEN_MPIEXEC="$mpiexec" LUMEN_RUN_CORES=5 -- --dry-run --hostfile "$hf" -n 15 ./app
    is_rc "$t, 15 ranks on 14 slots" "$rc" 0
    contains "$t, 15 ranks on 14 slots: warning" "$err" "15 ranks on 14 slots (hostfile $hf)"
    [ "$flavor" = openmpi ] && has "$t, 15 ranks on 14 slots" "$out" "--oversubscribe --bind-to none"

    # Slurm: 4(x2),2 = 10 tasks, 2 CPUs each
    lr LUMEN_MPIEXEC="$mpiexec" SLURM_JOB_ID=42 'SLURM_TASKS_PER_NODE=4(x2),2' SLURM_CPUS_PER_TASK=2 \
        -- --dry-run ./app
    is_rc "$t, Slurm" "$rc" 0
    has "$t, Slurm" "$out" "$np 10"
    case $flavor in
        openmpi) has "$t, Slurm" "$out" "--bind-to core --map-by slot:PE=2" ;;
        mpich) has "$t, Slurm" "$out" "-bind-to core:2" ;;
    esac
    lr LUMEN_MPIEXEC="$mpiexec" SLURM_JOB_ID=42 'SLURM_TASKS_PER_NODE=4(x2),2' -- --dry-run -n 11 ./app
    contains "$t, Slurm, 11 ranks: warning" "$err" "11 ranks on 10 slots (the tasks of Slurm job 42)"
done < <(launchers)

lr -- --dry-run --hostfile "$TMP/no-such-file" ./app
is_rc "missing hostfile" "$rc" 2
contains "missing hostfile" "$err" "hostfile '$TMP/no-such-file' does not exist"
printf '# nothing\n\n' >"$TMP/empty"
lr LUMEN_MPIEXEC="$FAKE_OPENMPI" -- --dry-run --hostfile "$TMP/empty" ./app
is_rc "empty hostfile" "$rc" 2
contains "empty hostfile" "$err" "lists no hosts"
finish
