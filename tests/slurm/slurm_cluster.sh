#!/usr/bin/env bash
# tests/slurm/slurm_cluster.sh - start a real single-node Slurm cluster, submit
# a job template from slurm/ with `sbatch --wait`, check the job, tear it down.
#
#   slurm_cluster.sh --template=slurm/one-node-cpu.sbatch --program=build/examples/quickstart
#                    [--mpirun=mpirun] [--ntasks=4] [--expect=LINE]... [--deadline=120]
#                    [--need-srun-mpi=pmix]
#
# --expect: a whole line the job's output must hold (repeatable). --deadline:
# seconds from the moment Slurm is installed to the end of the job; past it
# the job is cancelled and the test fails (installing has its own limits).
# --need-srun-mpi: skip (77) when `srun --mpi=list` lacks that plugin.
#
# Everything lives in one fresh folder from mktemp (munge key and socket,
# slurm.conf, state, spool, logs, the job's output and TMPDIR). munged,
# slurmctld and slurmd run in the foreground as children of this script, on
# loopback, on free high ports; the EXIT trap cancels what is left of the job,
# stops exactly those three processes (by the pids this script got from `&`)
# and removes the folder. Nothing is killed by name.
#
# Needs root (munged, slurmd and slurmstepd do). When slurmctld, slurmd or
# munged is missing it installs Debian's slurm-wlm and munge (apt-get, root,
# non-interactive); when that cannot be done it says why and exits 77, which
# ctest reports as skipped (SKIP_RETURN_CODE). LUMEN_SLURM_NO_INSTALL=1 skips
# instead of installing. LUMEN_SLURM_KEEP=1 keeps the folder (and says where).
#
# Exit: 0 passed, 77 skipped, anything else failed.
set -uo pipefail

SKIP=77
t_start=$SECONDS
template="" program="" mpirun="" ntasks=4 deadline=120 need_mpi="" signal_when=""
expect=()
for a in "$@"; do
    case $a in
        --template=*) template=${a#*=} ;;
        --program=*) program=${a#*=} ;;
        --mpirun=*) mpirun=${a#*=} ;;
        --ntasks=*) ntasks=${a#*=} ;;
        --expect=*) expect+=("${a#*=}") ;;
        --deadline=*) deadline=${a#*=} ;;
        --need-srun-mpi=*) need_mpi=${a#*=} ;;
        --signal-when=*) signal_when=${a#*=} ;; # USR1 to the batch script once the output has this
        *) echo "slurm_cluster: unknown argument $a" >&2; exit 2 ;;
    esac
done
[ -r "$template" ] || { echo "slurm_cluster: no template '$template'" >&2; exit 2; }
[ -x "$program" ] || { echo "slurm_cluster: no program '$program'" >&2; exit 2; }
template=$(realpath "$template") program=$(realpath "$program") # the job runs in its own folder

say() { printf 'slurm_cluster: %s\n' "$*"; }
skip() { say "SKIPPED: $*"; exit "$SKIP"; }
fail() { say "FAILED: $*"; exit 1; }
left() { echo $((deadline - (SECONDS - t_ready))); } # seconds left of the deadline

# The daemons live in sbin; a test environment may not have it on PATH.
export PATH="$PATH:/usr/sbin:/sbin:/usr/local/sbin"
# A surrounding allocation (ctest run inside a Slurm job) must not leak in.
for v in $(compgen -e); do
    case $v in SLURM_* | SBATCH_* | SQUEUE_* | SINFO_* | SCONTROL_* | SRUN_* | SALLOC_*) unset "$v" ;; esac
done

unset LUMEN_SLURM_TEST_DIR # set on the job only (see leftover_pids)
[ "$(id -u)" -eq 0 ] || skip "needs root: munged, slurmd and slurmstepd run as root here"

have_slurm() {
    local b
    for b in munged slurmctld slurmd sbatch sinfo squeue scancel; do
        command -v "$b" >/dev/null 2>&1 || return 1
    done
}

# ---- install slurm-wlm and munge when missing ---------------------------------
policy_made=""
install_slurm() {
    command -v apt-get >/dev/null 2>&1 || { say "no apt-get: not a Debian-like system"; return 1; }
    local pkgs=(slurm-wlm munge) t0=$SECONDS log
    log=$(mktemp "${TMPDIR:-/tmp}/lumen-slurm-apt.XXXXXX") || return 1
    export DEBIAN_FRONTEND=noninteractive
    local opts=(-q -y --no-install-recommends -o DPkg::Lock::Timeout=60
                -o Acquire::Retries=2 -o Acquire::http::Timeout=30)
    # The packages' scripts would start munge and the Slurm daemons as system
    # services: forbid that for the install (policy-rc.d, as Docker images do),
    # unless the machine already has a policy of its own.
    # (the EXIT trap removes it should this script be stopped meanwhile)
    trap '[ -z "$policy_made" ] || rm -f "$policy_made"' EXIT
    trap 'exit 1' INT TERM HUP
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# made by lumen tests/slurm/slurm_cluster.sh during apt-get; removed after\nexit 101\n' \
            >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy_made=/usr/sbin/policy-rc.d
    fi
    say "installing ${pkgs[*]} (apt-get, log in $log)"
    # download first (safe to time out), then install from the cache
    local ok=0
    if timeout 120 apt-get "${opts[@]}" --download-only install "${pkgs[@]}" >>"$log" 2>&1 ||
        { say "download failed; apt-get update, then again"
          timeout 120 apt-get -q -o DPkg::Lock::Timeout=60 update >>"$log" 2>&1 &&
          timeout 120 apt-get "${opts[@]}" --download-only install "${pkgs[@]}" >>"$log" 2>&1; }; then
        apt-get "${opts[@]}" install "${pkgs[@]}" >>"$log" 2>&1 && ok=1
    fi
    if [ -n "$policy_made" ]; then
        rm -f "$policy_made"
        policy_made=""
    fi
    if [ "$ok" -ne 1 ]; then
        tail -n 15 "$log" | sed 's/^/  apt: /'
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
    say "installed ${pkgs[*]} in $((SECONDS - t0)) s"
}

if ! have_slurm; then
    if [ "${LUMEN_SLURM_NO_INSTALL:-0}" = 1 ]; then
        skip "Slurm (slurmctld, slurmd, munged, sbatch) is not installed and LUMEN_SLURM_NO_INSTALL=1"
    fi
    say "Slurm or munge is missing; trying to install Debian's slurm-wlm and munge"
    install_slurm || skip "could not install slurm-wlm and munge (see above)"
    have_slurm || skip "slurm-wlm and munge installed, but a daemon or command is still missing"
fi
t_ready=$SECONDS

# ---- the folder, and the teardown -----------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/lumen-slurm.XXXXXX") || fail "mktemp"
chmod 755 "$work" # munged refuses a socket folder others cannot traverse
mkdir -p "$work"/{etc,munge,state,spool,run,log,tmp,job}
chmod 755 "$work/munge"

munged_pid="" ctld_pid="" slurmd_pid="" sbatch_pid="" jobid=""
status="FAILED"

# true while PID is alive (a zombie counts as gone: it only waits to be reaped)
alive() {
    local st
    st=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

# stop one of our children: TERM, up to 10 s, then KILL; then reap it
stop_pid() {
    local pid=$1 name=$2 i
    [ -n "$pid" ] || return 0
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 100; i++)); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            say "$name ($pid) did not stop on TERM; KILL"
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    wait "$pid" 2>/dev/null
    return 0
}

# what is left of our job, if anything: processes that carry this run's tag in
# their environment (the job's own, which sbatch gives our environment) or
# have a file or folder of ours open (slurmstepd, which slurmd starts detached)
leftover_pids() {
    {
        env -u LUMEN_SLURM_TEST_DIR grep -lzxF -- "LUMEN_SLURM_TEST_DIR=$work" /proc/[0-9]*/environ
        find /proc/[0-9]*/cwd /proc/[0-9]*/fd -maxdepth 1 -lname "$work/*"
    } 2>/dev/null | cut -d/ -f3 | sort -un | grep -vxF -e "$$" -e "$BASHPID"
}

show_logs() {
    local f
    # (the daemons run with -D: their stderr has all their log lines)
    for f in "$work/job/out.txt" "$work/log/sbatch.err" "$work/log/slurmctld.stderr" \
             "$work/log/slurmd.stderr" "$work/log/munged.stderr"; do
        [ -s "$f" ] || continue
        echo "----- ${f#"$work"/} (last 25 lines)"
        tail -n 25 "$f"
    done
    echo "-----"
}

cleanup() {
    local rc=$? t0=$SECONDS i
    trap - EXIT INT TERM HUP
    [ "$status" = PASSED ] || [ "$rc" -eq "$SKIP" ] || show_logs
    stop_pid "$sbatch_pid" sbatch
    # cancel whatever job this cluster still has, and give its steps a moment
    if [ -n "$ctld_pid" ] && alive "$ctld_pid"; then
        if [ -n "$(timeout 5 squeue -h -o %i 2>/dev/null)" ]; then
            say "cancelling the jobs still in the queue"
            timeout 5 scancel --user=root >/dev/null 2>&1
            for ((i = 0; i < 50; i++)); do
                [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break
                sleep 0.2
            done
        fi
    fi
    stop_pid "$slurmd_pid" slurmd
    stop_pid "$ctld_pid" slurmctld
    stop_pid "$munged_pid" munged
    # slurmstepd and the job's processes are not our children
    local p
    p=$(leftover_pids)
    for ((i = 0; i < 50 && ${#p} > 0; i++)); do
        sleep 0.2
        p=$(leftover_pids)
    done
    if [ -n "$p" ]; then
        # kill only what is still ours now (a pid seen a moment ago may be gone)
        p=$(leftover_pids | grep -xF "$p")
        if [ -n "$p" ]; then
            say "left over from the job, killed:"
            ps -o pid=,args= -p "$(paste -sd, <<<"$p")" | sed 's/^/  /'
            # shellcheck disable=SC2086 # one pid a word
            kill -KILL $p 2>/dev/null
        fi
    fi
    [ -n "$policy_made" ] && rm -f "$policy_made"
    if [ "${LUMEN_SLURM_KEEP:-0}" = 1 ]; then
        say "kept $work"
    else
        rm -rf "$work"
    fi
    say "teardown took $((SECONDS - t0)) s; total $((SECONDS - t_start)) s"
    exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 1' INT TERM HUP

# ---- munge ----------------------------------------------------------------------
socket=$work/munge/munge.socket
head -c 1024 /dev/urandom >"$work/munge/munge.key" && chmod 400 "$work/munge/munge.key"
munged -F --key-file="$work/munge/munge.key" --socket="$socket" \
    --pid-file="$work/munge/munged.pid" --log-file="$work/log/munged.log" \
    --seed-file="$work/munge/munged.seed" </dev/null >"$work/log/munged.stderr" 2>&1 &
munged_pid=$!
for ((i = 0; i < 100; i++)); do
    [ -S "$socket" ] && munge -n -S "$socket" 2>/dev/null | unmunge -S "$socket" >/dev/null 2>&1 && break
    alive "$munged_pid" || fail "munged exited"
    sleep 0.1
done
munge -n -S "$socket" 2>/dev/null | unmunge -S "$socket" >/dev/null 2>&1 || fail "munged does not answer on $socket"

# ---- slurmctld and slurmd ---------------------------------------------------------
host=$(hostname -s)
conf=$work/etc/slurm.conf
export SLURM_CONF=$conf

# a TCP port nobody uses, in 20000-32767 (below Linux's ephemeral range)
port_free() { [ -z "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]; }
pick_port() {
    local p i
    for ((i = 0; i < 50; i++)); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 12768))
        if port_free "$p" && [ "$p" != "${1:-}" ]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

write_conf() {
    cat >"$conf" <<EOF
# written by lumen tests/slurm/slurm_cluster.sh: one node, loopback only, no cgroups
ClusterName=lumentest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$1
SlurmdPort=$2
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
TmpFS=$work/tmp
SlurmctldPidFile=$work/run/slurmctld.pid
SlurmdPidFile=$work/run/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
# sbatch --wait polls every 2 s with a short MinJobAge (default: +2, +10, +42 s)
MinJobAge=4
KillWait=5
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=4 State=UNKNOWN
PartitionName=lumen Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

# start both daemons; 0 when the node is idle, 1 when they did not come up
start_slurm() {
    local i state
    slurmctld -D -i -f "$conf" </dev/null >"$work/log/slurmctld.stderr" 2>&1 &
    ctld_pid=$!
    slurmd -D -f "$conf" </dev/null >"$work/log/slurmd.stderr" 2>&1 &
    slurmd_pid=$!
    for ((i = 0; i < 150; i++)); do # 30 s
        alive "$ctld_pid" || { say "slurmctld exited"; return 1; }
        alive "$slurmd_pid" || { say "slurmd exited"; return 1; }
        state=$(timeout 5 sinfo -h -n "$host" -o %T 2>/dev/null)
        [ "$state" = idle ] && return 0
        sleep 0.2
    done
    say "the node is not idle after 30 s (state: ${state:-none})"
    return 1
}

up=0
for attempt in 1 2 3; do
    if ! ctld_port=$(pick_port) || ! slurmd_port=$(pick_port "$ctld_port"); then
        fail "no free port"
    fi
    write_conf "$ctld_port" "$slurmd_port"
    if start_slurm; then
        up=1
        break
    fi
    # a port taken between the check and the bind: stop both, try other ports
    if grep -qi "address already in use" "$work"/log/*.log "$work"/log/*.stderr 2>/dev/null; then
        say "a port was taken (attempt $attempt); again with other ports"
        stop_pid "$slurmd_pid" slurmd
        stop_pid "$ctld_pid" slurmctld
        slurmd_pid="" ctld_pid=""
        rm -rf "$work"/state/* "$work"/spool/* "$work"/log/slurm*
        continue
    fi
    break
done
[ "$up" = 1 ] || fail "the cluster did not come up"
t_up=$SECONDS
say "cluster up: slurmctld 127.0.0.1:$ctld_port (pid $ctld_pid), slurmd :$slurmd_port (pid $slurmd_pid), munged pid $munged_pid, in $work ($((t_up - t_ready)) s)"

# ---- the job --------------------------------------------------------------------
if [ -n "$need_mpi" ] && ! srun --mpi=list 2>&1 | grep -qw -- "$need_mpi"; then
    skip "this Slurm has no '$need_mpi' MPI plugin (srun --mpi=list)"
fi
# The node offers 4 CPUs whatever the machine has (config_overrides); on fewer
# cores than ranks, an mpirun template's binding (one core per rank) must be
# allowed to put two ranks on a core.
if [ "$(nproc)" -lt "$ntasks" ]; then
    export MPIRUN_BIND="--map-by slot:PE=1 --bind-to core:overload-allowed"
    say "$(nproc) cores for $ntasks ranks: MPIRUN_BIND=\"$MPIRUN_BIND\" (used by mpirun templates)"
fi
export TMPDIR=$work/tmp # the job's scratch (Open MPI's session folder, lumen's spill folder)
# The job gets this environment (sbatch --export=ALL): what the template must
# do itself (root, placing ranks on the allocation) is not done for it here.
unset OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_rmaps_base_oversubscribe
[ -z "$mpirun" ] || export MPIRUN=$mpirun
out=$work/job/out.txt
limit=$(($(left) - 20))
[ "$limit" -ge 20 ] || fail "no time left for the job"
# LUMEN_SLURM_TEST_DIR tags the job's processes (see leftover_pids); only the
# job has it, not the other commands of this script
LUMEN_SLURM_TEST_DIR=$work timeout "$limit" sbatch --wait --parsable --chdir="$work/job" --output="$out" \
    --ntasks="$ntasks" --time=00:05:00 "$template" "$program" \
    >"$work/log/sbatch.out" 2>"$work/log/sbatch.err" &
sbatch_pid=$!
# the job id comes first (--parsable), the job's end later
for ((i = 0; i < 50; i++)); do
    jobid=$(head -n 1 "$work/log/sbatch.out" 2>/dev/null)
    [ -n "$jobid" ] && break
    alive "$sbatch_pid" || break
    sleep 0.1
done
# the signal path: once the job says it waits, SIGUSR1 to the batch script,
# as `#SBATCH --signal=B:USR1@T` delivers it before the time limit
if [ -n "$signal_when" ] && [ -n "$jobid" ]; then
    for ((i = 0; i < 600; i++)); do
        grep -qF -- "$signal_when" "$out" 2>/dev/null && break
        alive "$sbatch_pid" || break
        sleep 0.1
    done
    if grep -qF -- "$signal_when" "$out" 2>/dev/null; then
        say "sending SIGUSR1 to the batch script of job $jobid"
        scancel --batch --signal=USR1 "$jobid" || say "scancel --signal failed"
    fi
fi
job_rc=0
wait "$sbatch_pid" || job_rc=$?
sbatch_pid=""
t_job=$SECONDS
[ -n "$jobid" ] || jobid=$(head -n 1 "$work/log/sbatch.out" 2>/dev/null)
say "job ${jobid:-?} ended: sbatch --wait exit code $job_rc after $((t_job - t_up)) s"
[ "$job_rc" -ne 124 ] || fail "the job did not end in $limit s"
[ -n "$jobid" ] || fail "sbatch did not submit the job"
[ -s "$out" ] || fail "the job wrote no output ($out)"
echo "----- job output"
cat "$out"
echo "-----"
[ "$job_rc" -eq 0 ] || fail "the job exited with $job_rc"
missing=0
for e in "${expect[@]}"; do
    if ! grep -qxF -- "$e" "$out"; then
        say "missing from the job output: '$e'"
        missing=1
    fi
done
[ "$missing" -eq 0 ] || fail "the job output lacks expected lines"
status=PASSED
say "PASSED: setup $((t_ready - t_start)) s, cluster start $((t_up - t_ready)) s, job $((t_job - t_up)) s"
