#!/usr/bin/env bash
# Stops what infra/celery/up.sh DIR started, each by its own pid: the Airflow processes and Celery
# workers (each with its process group: SIGTERM, SIGKILL after 60 s), redis, then PostgreSQL
# (pg_ctl's fast shutdown). Data stays in DIR; up.sh DIR starts it again.
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$(cd "$1" && pwd) || exit 1

alive() { kill -0 "$1" 2>/dev/null; }
stop_group() {  # PIDFILE: the process and its group (it was started with setsid)
  local pid; pid=$(cat "$1")
  kill -TERM -- "-$pid" 2>/dev/null
  for _ in $(seq 120); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$pid" 2>/dev/null
  rm -f "$1"
}
# Workers first, so that no task is picked up while the scheduler stops (a running task is
# finished by the worker's warm shutdown on SIGTERM, within the grace time).
for pidfile in "$DIR"/run/worker-*.pid "$DIR"/run/scheduler.pid "$DIR"/run/dag-processor.pid "$DIR"/run/api-server.pid; do
  [ -f "$pidfile" ] && stop_group "$pidfile"
done
if [ -f "$DIR/run/redis.pid" ]; then
  pid=$(cat "$DIR/run/redis.pid")
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 60); do alive "$pid" || break; sleep 0.5; done
  rm -f "$DIR/run/redis.pid"
fi
if [ -f "$DIR/run/postgres.pid" ]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  as_pg=(); [ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$DIR/postgres" -m fast -w stop >/dev/null 2>&1 \
    || kill -TERM "$(cat "$DIR/run/postgres.pid")" 2>/dev/null
  rm -f "$DIR/run/postgres.pid"
fi
echo "stopped the deployment in $DIR"
