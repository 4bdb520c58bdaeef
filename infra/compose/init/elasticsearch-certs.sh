#!/usr/bin/env bash
# One-shot: a CA and the Elasticsearch node certificate, made with elasticsearch-certutil into the `certs`
# volume (kept across restarts; made only when missing). Run as root by `elasticsearch-certs`, then
# handed to the Elasticsearch user (uid 1000, group 0). The CA certificate is world-readable so Kibana
# and the pipeline (airflow, uid 50000) can verify the node; the private keys are not.
set -euo pipefail
certs=/usr/share/elasticsearch/config/certs
cd /usr/share/elasticsearch

if [ ! -f "$certs/ca/ca.crt" ]; then
  bin/elasticsearch-certutil ca --silent --pem --out "$certs/ca.zip"
  unzip -q -o "$certs/ca.zip" -d "$certs" && rm "$certs/ca.zip"
fi
if [ ! -f "$certs/elasticsearch/elasticsearch.crt" ]; then
  printf 'instances:\n  - name: elasticsearch\n    dns: [elasticsearch, elasticsearch-2, elasticsearch-3, localhost]\n    ip: [127.0.0.1]\n' \
    > "$certs/instances.yml"
  bin/elasticsearch-certutil cert --silent --pem --in "$certs/instances.yml" \
    --ca-cert "$certs/ca/ca.crt" --ca-key "$certs/ca/ca.key" --out "$certs/node.zip"
  unzip -q -o "$certs/node.zip" -d "$certs" && rm "$certs/node.zip"
fi
chown -R 1000:0 "$certs"
find "$certs" -type d -exec chmod 755 {} +
chmod 644 "$certs/ca/ca.crt" "$certs/elasticsearch/elasticsearch.crt"
chmod 640 "$certs/elasticsearch/elasticsearch.key"
chmod 600 "$certs/ca/ca.key"
echo "elasticsearch-certs: CA and node certificate in $certs"
