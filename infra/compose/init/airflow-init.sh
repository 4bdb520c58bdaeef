#!/usr/bin/env bash
# One-shot, run by `airflow-init` before any Airflow component starts (idempotent):
# Airflow's database (with the FAB auth manager's tables) and the admin login of the UI.
set -euo pipefail

airflow db migrate
# FAB keeps users in the database: create the admin once, later runs only set the password from .env.
# Airflow logs its start-up on stdout too, so the JSON list is the output's last line.
if airflow users list --output json | python3 -c '
import json, os, sys
users = json.loads(sys.stdin.read().strip().splitlines()[-1])
sys.exit(0 if any(user["username"] == os.environ["AIRFLOW_ADMIN_USER"] for user in users) else 1)'; then
  airflow users reset-password --username "${AIRFLOW_ADMIN_USER}" --password "${AIRFLOW_ADMIN_PASSWORD}"
  echo "airflow-init: admin user ${AIRFLOW_ADMIN_USER} exists, password set from .env"
else
  airflow users create --role Admin --username "${AIRFLOW_ADMIN_USER}" --password "${AIRFLOW_ADMIN_PASSWORD}" \
    --firstname newswire --lastname admin --email "${AIRFLOW_ADMIN_USER}@localhost.invalid"
  echo "airflow-init: created admin user ${AIRFLOW_ADMIN_USER}"
fi
