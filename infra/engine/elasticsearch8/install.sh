#!/usr/bin/env bash
# Installs Elasticsearch 8 for tests/test_elasticsearch8.py: the 8.19 distribution of Maven Central
# with the project's newswire-root plugin (see pom.xml), unpacked into the engine cache
#   ${NEWSWIRE_ENGINE_HOME:-~/.cache/newswire/engine}/elasticsearch8/elasticsearch-<version>
# and, when run as root, the system user the node runs as (Elasticsearch refuses to run as root).
# Run by `infra/setup.sh --test`; safe to run again: skips when the cached build is of the same sources.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

run_user=newswire-es
if [ "$(id -u)" -eq 0 ] && ! id "$run_user" >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin "$run_user"
  echo "created system user $run_user (runs the Elasticsearch 8 test node)"
fi

target="${NEWSWIRE_ENGINE_HOME:-$HOME/.cache/newswire/engine}/elasticsearch8"
# The build is keyed by what it is made of: this directory and the shared root endpoint source.
sources=$(cd "$here" && find . -type f ! -path './target/*' | sort | xargs cat
          cat "$here/../elasticsearch/src/main/java/newswire/engine/RootEndpoint.java")
digest=$(printf '%s' "$sources" | sha256sum | cut -c1-12)
if [ "$(cat "$target/.complete" 2>/dev/null)" = "$digest" ]; then
  exit 0
fi

rm -rf "$target"
mkdir -p "$target"
mvn -q -B -Dstyle.color=never -f "$here/pom.xml" package -Des8.dir="$target"
rm -rf "$target/build"
echo "$digest" > "$target/.complete"
echo "Elasticsearch 8 test distribution: $(ls -d "$target"/elasticsearch-*)"
