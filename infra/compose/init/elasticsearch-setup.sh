#!/usr/bin/env bash
# One-shot: give the built-in kibana_system user the password from .env, so Kibana can connect.
# Run by the `elasticsearch-setup` compose service once Elasticsearch answers; idempotent.
set -euo pipefail

until curl -fsS -u "elastic:${ELASTIC_PASSWORD}" "http://elasticsearch:9200/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null; do
  echo "elasticsearch-setup: waiting for Elasticsearch"
  sleep 5
done
curl -fsS -u "elastic:${ELASTIC_PASSWORD}" -H "Content-Type: application/json" \
  -X POST "http://elasticsearch:9200/_security/user/kibana_system/_password" \
  -d "{\"password\":\"${KIBANA_SYSTEM_PASSWORD}\"}" >/dev/null
echo "elasticsearch-setup: kibana_system password set"
