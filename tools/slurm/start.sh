#!/usr/bin/env bash
# A private single-node Slurm cluster for tests and for trying `wrn sweep slurm` on one machine:
# munged with its own key and socket, slurmctld and slurmd on 127.0.0.1, no cgroups, no
# accounting database, everything (config, state, spool, logs, pid files) under one directory.
# Needs the Debian packages slurmctld slurmd slurm-client munge (npm run setup installs them).
# Usage: tools/slurm/start.sh DIR   (prints the export line for SLURM_CONF); tools/slurm/stop.sh DIR
# SLURM_PORT_BASE (default 16817) moves its two ports, for a second cluster on the same machine.
set -euo pipefail
dir=${1:?usage: tools/slurm/start.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
for b in munged slurmctld slurmd sbatch; do
  command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || { echo "tools/slurm/start.sh: $b not found; install slurmctld slurmd slurm-client munge (npm run setup does)" >&2; exit 2; }
done
PATH="$PATH:/usr/sbin"
user=$(id -un)
host=$(hostname -s)
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
chmod 0700 "$dir/munge"
# munged refuses a key readable by others; the key is this cluster's own.
if [ ! -f "$dir/munge/munge.key" ]; then
  head -c 1024 /dev/urandom > "$dir/munge/munge.key"
  chmod 0400 "$dir/munge/munge.key"
fi
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munge.seed"
cpus=$(nproc)
mem_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))
cat > "$dir/slurm.conf" <<CONF
ClusterName=wrn
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
SlurmctldPort=${SLURM_PORT_BASE:-16817}
SlurmdPort=$(( ${SLURM_PORT_BASE:-16817} + 1 ))
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MinJobAge=3600
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
# Ready when the node is idle (sinfo blocks against a dead daemon: always under a timeout).
for _ in $(seq 1 100); do
  state=$(timeout 5 sinfo -h -o %t 2>/dev/null || true)
  case "$state" in idle*|mix*|alloc*) echo "export SLURM_CONF=$SLURM_CONF"; exit 0 ;; esac
  sleep 0.1
done
echo "tools/slurm/start.sh: the node did not become idle (logs in $dir/log)" >&2
exit 1
