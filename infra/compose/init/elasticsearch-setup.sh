#!/usr/bin/env bash
# One-shot, run by `elasticsearch-setup` once Elasticsearch answers (idempotent):
# (the passwords were checked by `setup-check` before anything started)
#   1. the kibana_system password, so Kibana can connect
#   2. the pipeline's least-privilege role and user (NEWSWIRE_ES_USER): it writes, creates and manages
#      the ${NEWSWIRE_INDEX_PREFIX}-* indices and their aliases, puts the index template and the ILM
#      policy that `newswire index init` and every processing run (re)install, and reads cluster health.
set -euo pipefail

es=${ES_URL}
call() {
  curl -fsS --cacert "$ES_CA_CERT" -u "elastic:${ELASTIC_PASSWORD}" -H "Content-Type: application/json" "$@"
}
until call "$es/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null; do
  echo "elasticsearch-setup: waiting for Elasticsearch"
  sleep 5
done
call -X POST "$es/_security/user/kibana_system/_password" -d "{\"password\":\"${KIBANA_SYSTEM_PASSWORD}\"}" >/dev/null
echo "elasticsearch-setup: kibana_system password set"

call -X PUT "$es/_security/role/newswire_pipeline" -d @- >/dev/null <<JSON
{
  "cluster": ["monitor", "manage_index_templates", "manage_ilm"],
  "indices": [
    {"names": ["${NEWSWIRE_INDEX_PREFIX}-*"], "privileges": ["read", "write", "create_index", "manage"]}
  ]
}
JSON
call -X PUT "$es/_security/user/${NEWSWIRE_ES_USER}" -d @- >/dev/null <<JSON
{"password": "${NEWSWIRE_ES_PASSWORD}", "roles": ["newswire_pipeline"], "full_name": "newswire pipeline"}
JSON
echo "elasticsearch-setup: role newswire_pipeline and user ${NEWSWIRE_ES_USER} on ${NEWSWIRE_INDEX_PREFIX}-*"
