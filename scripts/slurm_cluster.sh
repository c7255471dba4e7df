#!/usr/bin/env bash
# A one-node SLURM cluster on this (Debian) machine, to try and test `hydra/launcher=slurm` without a real one.
#
#   scripts/slurm_cluster.sh up      install slurm-wlm + munge if missing, write the config, start the daemons
#   scripts/slurm_cluster.sh status  is our cluster answering? (exit 0 yes, 1 no)
#   scripts/slurm_cluster.sh down    stop the daemons this script started (and only those)
#   scripts/slurm_cluster.sh check   can this script run here? (exit 0 yes, 3 no, with the reason)
#
# `up` is idempotent: what is installed, written or running already is kept. The config
# (/etc/slurm/slurm.conf, where SLURM's commands look for it) says: munge authentication, proctrack/linuxproc,
# task/none (no cgroups), select/cons_tres with CR_Core_Memory, no accounting, and one partition `debug` with
# this node's CPUs and a RealMemory below its RAM. It is only written when absent or written by this script
# (its first line says so); a slurm.conf of a real installation is never touched. State, logs and pid files
# live in $HOPFIELD_SLURM_DIR (default /var/tmp/hopfield-slurm), with the list of the daemons we started. A
# controller this script starts begins with an empty queue (slurmctld -c): jobs left from an earlier life of
# the cluster (a session or CI run that ended with jobs queued) are dropped, not run again.
# Exit status: 0 done, 1 failed (with the daemon's log), 3 cannot run here (not root, no apt-get, a foreign
# SLURM configuration): the tests skip with that reason.
set -euo pipefail

STATE=${HOPFIELD_SLURM_DIR:-/var/tmp/hopfield-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# hopfield local cluster: written by scripts/slurm_cluster.sh (safe to delete)"
PARTITION=debug
HOST=$(hostname -s)

say() { echo "slurm_cluster: $*" >&2; }
cannot() { say "cannot run here: $*"; exit 3; }

have_slurm() { command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null; }
have_munge() { command -v munged >/dev/null && command -v munge >/dev/null; }

# Why this script cannot run here, or nothing.
why_not() {
    [ "$(uname -s)" = Linux ] || { echo "not Linux"; return; }
    [ "$(id -u)" = 0 ] || { echo "needs root to install and start SLURM's daemons (run as root, or on a CI box)"; return; }
    if ! { have_slurm && have_munge; } && ! command -v apt-get >/dev/null; then
        echo "slurm-wlm/munge are not installed and there is no apt-get to install them (Debian/Ubuntu only)"
        return
    fi
    if [ -f "$CONF" ] && [ "$(head -n 1 "$CONF")" != "$MARK" ]; then
        echo "$CONF exists and was not written by this script (a real SLURM installation): use it directly"
    fi
}

# Where each daemon writes its pid (munged: Debian's default; the others: slurm.conf below).
pidfile() { if [ "$1" = munged ]; then echo /run/munge/munged.pid; else echo "$STATE/$1.pid"; fi; }

# The daemon's pid if it is alive, else nothing. A pid file outlives its daemon (killed with the session that
# started it), and its number can be a zombie's or reused by another program: only a live process of that name
# counts.
alive() {
    local pid state
    pid=$(cat "$(pidfile "$1")" 2>/dev/null || true)
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] || return 0
    state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ] && echo "$pid"
    return 0
}

# Note a daemon this script started (only those are stopped by `down`).
remember() { grep -qx "$1" "$STATE/started" 2>/dev/null || echo "$1" >>"$STATE/started"; }

munge_works() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

install_packages() {
    have_slurm && have_munge && return
    say "installing slurm-wlm and munge from Debian's packages (log: $STATE/apt.log)"
    mkdir -p "$STATE"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -q && apt-get install -y -q --no-install-recommends slurm-wlm munge; } >"$STATE/apt.log" 2>&1 ||
        { say "apt-get failed:"; tail -n 20 "$STATE/apt.log" >&2; exit 1; }
}

write_conf() {
    local cpus sockets cores threads ram_mb mem_mb conf
    read -r cpus sockets cores threads ram_mb < <(slurmd -C | head -n 1 | tr ' ' '\n' | awk -F= '
        /^CPUs=/ {c=$2} /^SocketsPerBoard=/ {s=$2} /^CoresPerSocket=/ {k=$2} /^ThreadsPerCore=/ {t=$2}
        /^RealMemory=/ {m=$2} END {print c, s, k, t, m}')
    # Leave the system 10% of the RAM (at least 1 GiB): a node with more RealMemory than it has is drained.
    mem_mb=$(( ram_mb - (ram_mb / 10 > 1024 ? ram_mb / 10 : 1024) ))
    conf=$(cat <<EOF
$MARK
ClusterName=hopfield-local
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
KillWait=5
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$mem_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
)
    if [ -f "$CONF" ] && [ "$(cat "$CONF")" = "$conf" ]; then
        return 1  # unchanged
    fi
    mkdir -p "$(dirname "$CONF")"
    printf '%s\n' "$conf" >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
    say "wrote $CONF ($PARTITION: $cpus CPUs, RealMemory=$mem_mb MB)"
}

# Every path munged (run as munge) reads or writes, with the mode Debian gives it.
MUNGE_DIRS="/etc/munge:0700 /var/log/munge:0700 /var/lib/munge:0700 /run/munge:0755"

start_munge() {
    munge_works && return
    local spec dir file owner
    # munged refuses a key, log, seed or directory it cannot use or that another user owns. After someone ran
    # munged as root (which needs all of them to be root's), they belong to root and munged, run as munge,
    # stops at the first: give every one back to munge (directories with their modes; socket, lock and pid
    # files left by a root munged that was killed included).
    for spec in $MUNGE_DIRS; do
        dir=${spec%:*}
        owner=$(stat -c %U "$dir" 2>/dev/null) && [ "$owner" != munge ] &&
            say "$dir belongs to $owner, not munge (munged was run as $owner): giving it to munge"
        install -d -o munge -g munge -m "${spec#*:}" "$dir" ||
            { say "cannot give $dir to munge: run chown munge:munge $dir; chmod ${spec#*:} $dir as root"; exit 1; }
    done
    [ -f /etc/munge/munge.key ] || { mungekey --create >/dev/null 2>&1 || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null; }
    for file in /etc/munge/munge.key /var/log/munge/munged.log /var/lib/munge/munged.seed /run/munge/*; do
        owner=$(stat -c %U "$file" 2>/dev/null) || continue
        [ "$owner" = munge ] && continue
        say "$file belongs to $owner, not munge (munged was run as $owner): giving it to munge"
        chown munge:munge "$file" || { say "cannot give $file to munge: run chown munge:munge $file as root"; exit 1; }
    done
    chmod 0400 /etc/munge/munge.key
    runuser -u munge -- munged || {
        say "munged did not start (its log below names the path; each of $MUNGE_DIRS and the files in them must belong to munge: chown munge:munge PATH)"
        tail -n 5 /var/log/munge/munged.log >&2 || true
        exit 1
    }
    remember munged
    for _ in $(seq 50); do munge_works && return; sleep 0.1; done
    say "munge does not answer"; exit 1
}

start_daemon() {  # name [options]
    local name=$1
    shift
    [ -n "$(alive "$name")" ] && return
    "$name" "$@" || { say "$name did not start:"; tail -n 20 "$STATE/$name.log" >&2 || true; exit 1; }
    remember "$name"
}

stop_daemon() {  # name
    local name=$1 pid
    pid=$(alive "$name") || true
    [ -n "$pid" ] || return 0
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    say "$name ($pid) did not stop in 10 s"; return 1
}

# The node is ready when sinfo lists it idle/mixed/allocated (30 s at most).
wait_ready() {
    local state="" deadline=$((SECONDS + 30))
    while [ "$SECONDS" -lt "$deadline" ]; do
        # sinfo retries an unreachable controller for a long time: each try is bounded too
        state=$(timeout 5 sinfo -h -p "$PARTITION" -o %T 2>/dev/null | head -n 1 || true)
        case "$state" in idle | mixed | allocated | completing) return 0 ;; esac
        case "$state" in down* | drain* | fail*)  # e.g. left down by an earlier run: bring it back
            scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        sleep 0.1
    done
    say "partition $PARTITION not ready after 30 s (node state: ${state:-none}); see $STATE/*.log"
    sinfo -R >&2 || true
    exit 1
}

ours_answers() {
    [ -f "$CONF" ] && [ "$(head -n 1 "$CONF")" = "$MARK" ] && [ -n "$(alive slurmctld)" ] &&
        [ -n "$(alive slurmd)" ] && timeout 10 sinfo -h -p "$PARTITION" >/dev/null 2>&1
}

cmd_up() {
    local reason changed=0
    reason=$(why_not)
    [ -z "$reason" ] || cannot "$reason"
    install_packages
    mkdir -p "$STATE/slurmctld" "$STATE/slurmd"
    write_conf && changed=1
    if [ "$changed" = 1 ]; then  # a new config: our daemons (if any) read it again
        stop_daemon slurmd && stop_daemon slurmctld
    fi
    start_munge
    # -c: a controller we start forgets the jobs of its previous life. Their processes ended with the session
    # or machine that ran them, and a restored queue would hold the node for whoever runs the tests next.
    start_daemon slurmctld -c
    start_daemon slurmd
    wait_ready
    cmd_status
}

cmd_status() {
    if ours_answers; then
        sinfo -p "$PARTITION" -o "%P %a %D %c %m %T" >&2
        return 0
    fi
    say "not up (scripts/slurm_cluster.sh up starts it)"
    return 1
}

cmd_down() {
    local name
    [ -f "$STATE/started" ] || { say "nothing started by this script is running"; return 0; }
    for name in slurmd slurmctld munged; do
        grep -qx "$name" "$STATE/started" || continue
        stop_daemon "$name"
        sed -i "/^$name\$/d" "$STATE/started"
    done
    say "stopped"
}

cmd_check() {
    local reason
    reason=$(why_not)
    [ -z "$reason" ] || cannot "$reason"
    echo "slurm_cluster: can run here"
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    check) cmd_check ;;
    *) echo "usage: $0 up|down|status|check" >&2; exit 2 ;;
esac
