#!/usr/bin/env bash
# Refuses to set the stack up with a missing, placeholder or well-known password.
#   require-secrets.sh VAR...   (checks the variables of that name in the environment)
# One line on stderr and exit 1 for the first bad one, so `docker compose up` stops at the init service.
set -euo pipefail

for name in "$@"; do
  value="${!name:-}"
  lowered=$(printf '%s' "$value" | tr '[:upper:]' '[:lower:]')
  case "$lowered" in
    "" ) reason="is empty" ;;
    change-me* | changeme* ) reason="still has the .env.example placeholder" ;;
    elastic | admin | airflow | kibana | password | secret | postgres ) reason="is a well-known default" ;;
    * ) reason="" ;;
  esac
  if [ -z "$reason" ] && [ "${#value}" -lt 12 ]; then
    reason="is shorter than 12 characters"
  fi
  if [ -n "$reason" ]; then
    echo "refusing to set up: $name $reason; set it in infra/compose/.env" >&2
    exit 1
  fi
done
