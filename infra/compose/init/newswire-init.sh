#!/usr/bin/env bash
# One-shot initialisation of the production stack, run by the `newswire-init` compose service
# (and safe to run again: every step is idempotent).
#   1. index template, lifecycle (ILM) policy, first versioned index and the read/write aliases,
#      as the pipeline's own least-privilege user
#   2. Kibana data view, saved search, charts and dashboard (the set for Kibana's version, overwriting).
#      Saved objects belong to Kibana, which the pipeline user has no rights in: this one step logs in
#      as `elastic`.
set -euo pipefail

echo "newswire-init: index template, ILM policy and aliases on ${NEWSWIRE_SEARCH_URL}"
newswire index init

echo "newswire-init: importing Kibana saved objects into ${NEWSWIRE_KIBANA_URL}"
NEWSWIRE_SEARCH_USER=elastic NEWSWIRE_SEARCH_PASSWORD="${ELASTIC_PASSWORD}" \
  newswire kibana-setup --kibana-url "${NEWSWIRE_KIBANA_URL}"
newswire index status
