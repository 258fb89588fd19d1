#!/usr/bin/env bash
# Stop the daemons tools/slurm/start.sh DIR started, by their pid files, and nothing else:
# slurmd first (it ignores SIGTERM once slurmctld is gone), then slurmctld, then munged; each
# gets SIGKILL after 10 s. Exited daemons may be reaped late, so liveness is read from
# /proc/PID/status (a zombie counts as gone), not from kill -0.
set -uo pipefail
dir=${1:?usage: tools/slurm/stop.sh DIR}
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
for name in slurmd slurmctld munged; do
  pidfile="$dir/run/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if [ -n "$pid" ] && alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$pidfile"
done
exit 0
