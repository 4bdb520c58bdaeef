#!/usr/bin/env bash
# One-shot initialisation of the production stack, run by the `newswire-init` compose service
# (and safe to run again: every step is idempotent).
#   1. index template, lifecycle (ILM) policy, first versioned index and the read/write aliases
#   2. Kibana data view, saved search and dashboard (imported with overwrite)
set -euo pipefail

echo "newswire-init: index template, ILM policy and aliases on ${NEWSWIRE_SEARCH_URL}"
newswire index init

echo "newswire-init: waiting for Kibana at ${NEWSWIRE_KIBANA_URL}"
for attempt in $(seq 1 60); do
  if curl -fsS -u "${NEWSWIRE_SEARCH_USER}:${NEWSWIRE_SEARCH_PASSWORD}" \
       "${NEWSWIRE_KIBANA_URL}/api/status" | grep -q '"level":"available"'; then
    break
  fi
  if [ "${attempt}" -eq 60 ]; then
    echo "newswire-init: Kibana did not become available" >&2
    exit 1
  fi
  sleep 5
done

echo "newswire-init: importing Kibana saved objects"
newswire kibana-setup --kibana-url "${NEWSWIRE_KIBANA_URL}" --flavour kibana
newswire index status
