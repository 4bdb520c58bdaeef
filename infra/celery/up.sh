#!/usr/bin/env bash
# Airflow on CeleryExecutor on this machine: a private PostgreSQL cluster (metadata database), a
# private redis-server (Celery broker), Airflow's api-server, scheduler and dag-processor, and N
# Celery workers named w1@HOST, w2@HOST, ... Everything listens on 127.0.0.1 only.
#
#   infra/celery/up.sh DIR [--workers N] [--concurrency C] [--api-port P] [--pg-port P] [--redis-port P]
#
# DIR holds everything: postgres/ and redis/ data, airflow/ (AIRFLOW_HOME), logs/, run/*.pid and
# airflow.env (the AIRFLOW__* settings the processes run with; source it to run `airflow` against
# this deployment). infra/celery/down.sh DIR stops every process by its own pid.
# NEWSWIRE_* variables of the caller's environment reach the DAG tasks unchanged (data dir, index
# prefix, engine, sources).
# Installs Debian's postgresql and redis-server when missing, and the `celery` extra of
# pyproject.toml (the Celery provider, the PostgreSQL driver) into the venv when missing.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
VENV_BIN=${NEWSWIRE_VENV_BIN:-$REPO/.venv/bin}

usage() { echo "usage: $0 DIR [--workers N] [--concurrency C] [--api-port P] [--pg-port P] [--redis-port P]" >&2; exit 2; }
[ $# -ge 1 ] || usage
DIR=$1; shift
workers=2 concurrency=2 api_port=8499 pg_port=5499 redis_port=6399
while [ $# -gt 0 ]; do
  case $1 in
    --workers) workers=$2 ;;
    --concurrency) concurrency=$2 ;;
    --api-port) api_port=$2 ;;
    --pg-port) pg_port=$2 ;;
    --redis-port) redis_port=$2 ;;
    *) usage ;;
  esac
  shift 2
done

# --------------------------------------------------------------------------- packages
missing=()
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  # Debian starts a system-wide cluster and redis on their default ports; this deployment uses
  # its own, so those are left as they are.
fi
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

if ! "$VENV_BIN/python" -c "import airflow.providers.celery, psycopg" 2>/dev/null; then
  # The pins live once, in pyproject.toml's `celery` extra.
  mapfile -t celery_requirements < <("$VENV_BIN/python" - "$REPO/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["optional-dependencies"]["celery"]))
PY
)
  echo "installing into the venv: ${celery_requirements[*]}"
  "$VENV_BIN/python" -m pip install -q "${celery_requirements[@]}"
fi

# --------------------------------------------------------------------------- layout
mkdir -p "$DIR"/{logs,run,redis,airflow,secrets}
DIR=$(cd "$DIR" && pwd)
chmod 700 "$DIR/secrets"
if ls "$DIR"/run/*.pid >/dev/null 2>&1; then
  echo "$DIR has a running deployment (run/*.pid); stop it first: infra/celery/down.sh $DIR" >&2
  exit 1
fi
# A start that fails half-way stops what it had started.
trap 'status=$?; [ $status -eq 0 ] || bash "$REPO/infra/celery/down.sh" "$DIR" >&2; exit $status' EXIT
secret() {  # NAME [PYTHON]: a random secret kept in DIR/secrets, the same on every start
  local file="$DIR/secrets/$1"
  [ -s "$file" ] || "$VENV_BIN/python" -c "${2:-import secrets; print(secrets.token_urlsafe(32))}" >"$file"
  cat "$file"
}
PG_PASSWORD=$(secret postgres-password)
REDIS_PASSWORD=$(secret redis-password)

# --------------------------------------------------------------------------- PostgreSQL
# postgres refuses to run as root: as root the cluster belongs to Debian's postgres user, who must
# be able to reach DIR (only search permission on DIR is added; secrets/ stays private).
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  as_pg=(runuser -u postgres --)
  chmod o+x "$DIR"
  if ! runuser -u postgres -- test -x "$DIR"; then
    echo "the postgres user cannot reach $DIR (a parent folder is private); choose a DIR it can traverse" >&2
    exit 1
  fi
fi
PGDATA=$DIR/postgres
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  install -m 600 /dev/null "$DIR/run/pg-password"
  printf '%s\n' "$PG_PASSWORD" >"$DIR/run/pg-password"
  [ ${#as_pg[@]} -gt 0 ] && chown postgres: "$PGDATA" "$DIR/run/pg-password"
  "${as_pg[@]}" "$PG_BIN/initdb" -D "$PGDATA" -U airflow --pwfile="$DIR/run/pg-password" \
    --auth-host=scram-sha-256 --auth-local=scram-sha-256 -E UTF8 >"$DIR/logs/initdb.log"
  rm -f "$DIR/run/pg-password"
fi
touch "$DIR/logs/postgres.log"
[ ${#as_pg[@]} -gt 0 ] && chown postgres: "$DIR/logs/postgres.log"
"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$DIR/logs/postgres.log" -w -t 120 start \
  -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories='$PGDATA'" >/dev/null
# pg_ctl stop (down.sh) is postgres's own clean shutdown; its pid is recorded like the others.
head -1 "$PGDATA/postmaster.pid" >"$DIR/run/postgres.pid"
export PGPASSWORD=$PG_PASSWORD
if ! "$PG_BIN/psql" -h 127.0.0.1 -p "$pg_port" -U airflow -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='airflow'" | grep -q 1; then
  "$PG_BIN/psql" -h 127.0.0.1 -p "$pg_port" -U airflow -d postgres -qc "CREATE DATABASE airflow"
fi
unset PGPASSWORD

# --------------------------------------------------------------------------- redis
# Only a broker: nothing is saved to disk (no RDB snapshots, no append-only file).
redis-server - >>"$DIR/logs/redis.log" 2>&1 <<EOF
bind 127.0.0.1
port $redis_port
requirepass $REDIS_PASSWORD
save ""
appendonly no
dir $DIR/redis
daemonize yes
pidfile $DIR/run/redis.pid
logfile $DIR/logs/redis.log
EOF
for _ in $(seq 60); do [ -s "$DIR/run/redis.pid" ] && break; sleep 0.5; done

# --------------------------------------------------------------------------- Airflow
cat >"$DIR/airflow.env" <<EOF
export AIRFLOW_HOME='$DIR/airflow'
export AIRFLOW__CORE__DAGS_FOLDER='$REPO/dags'
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
# psycopg 3 for both engines (Airflow would derive asyncpg for the async one).
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN='postgresql+psycopg://airflow:$PG_PASSWORD@127.0.0.1:$pg_port/airflow'
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC='postgresql+psycopg_async://airflow:$PG_PASSWORD@127.0.0.1:$pg_port/airflow'
export AIRFLOW__CELERY__BROKER_URL='redis://:$REDIS_PASSWORD@127.0.0.1:$redis_port/0'
export AIRFLOW__CELERY__RESULT_BACKEND='db+postgresql+psycopg://airflow:$PG_PASSWORD@127.0.0.1:$pg_port/airflow'
export AIRFLOW__CELERY__WORKER_CONCURRENCY=$concurrency
# Task instances record the Celery worker that ran them, not only this machine's name.
export AIRFLOW__CORE__HOSTNAME_CALLABLE=newswire.airflow_support.worker_hostname
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT=$api_port
# One API server process is plenty here; the default starts four.
export AIRFLOW__API__WORKERS=1
# Task processes on the workers report to the API server; its default URL assumes port 8080.
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL='http://127.0.0.1:$api_port/execution/'
# Every process must sign and check the task tokens and sessions with the same keys.
export AIRFLOW__API_AUTH__JWT_SECRET='$(secret jwt-secret)'
export AIRFLOW__API__SECRET_KEY='$(secret api-secret-key)'
export AIRFLOW__CORE__FERNET_KEY='$(secret fernet-key "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())")'
export PATH='$VENV_BIN':"\$PATH"
EOF
chmod 600 "$DIR/airflow.env"
# shellcheck disable=SC1091
source "$DIR/airflow.env"

"$VENV_BIN/airflow" db migrate >"$DIR/logs/db-migrate.log" 2>&1 || {
  echo "airflow db migrate failed; see $DIR/logs/db-migrate.log" >&2; tail -5 "$DIR/logs/db-migrate.log" >&2; exit 1; }

start() {  # NAME COMMAND...: in its own session, so that down.sh stops it with its children
  local name=$1; shift
  setsid "$@" >"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/run/$name.pid"
}
start api-server "$VENV_BIN/airflow" api-server
start scheduler "$VENV_BIN/airflow" scheduler
start dag-processor "$VENV_BIN/airflow" dag-processor
host=$(hostname)
for n in $(seq "$workers"); do
  NEWSWIRE_CELERY_HOSTNAME="w$n@$host" start "worker-w$n" "$VENV_BIN/airflow" celery worker --celery-hostname "w$n@$host" --concurrency "$concurrency"
done

wait_for() {  # NAME SECONDS COMMAND...: until COMMAND succeeds, as long as process NAME lives
  local name=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$DIR/run/$name.pid")" 2>/dev/null; then
      echo "$name exited; see $DIR/logs/$name.log:" >&2; tail -3 "$DIR/logs/$name.log" >&2; exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "$name did not come up within ${seconds}s; see $DIR/logs/$name.log" >&2; exit 1
    fi
    sleep 2
  done
}
wait_for api-server 300 \
  "$VENV_BIN/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$api_port/api/v2/monitor/health', timeout=5)"
for n in $(seq "$workers"); do
  wait_for "worker-w$n" 300 grep -q "w$n@$host ready" "$DIR/logs/worker-w$n.log"
done
echo "CeleryExecutor up: http://127.0.0.1:$api_port (admin; password in $DIR/airflow/simple_auth_manager_passwords.json.generated), $workers worker(s), logs in $DIR/logs"
