#!/usr/bin/env bash
# Creates .venv-airflow-lowest: the LOWEST Airflow release pyproject.toml supports, with newswire and
# its production extra (the FAB auth manager the compose image runs) installed beside it, so
# tests/test_dags_lowest_airflow.py can import every DAG and the auth manager with it.
# The version is read from pyproject.toml's `apache-airflow>=X,<4` (the one place that states it).
# Run by `infra/setup.sh --test`; safe to run again (skips when the venv already has that version).
set -euo pipefail
cd "$(dirname "$0")/.."

lowest=$(python3 - <<'PY'
import re, tomllib
with open("pyproject.toml", "rb") as handle:
    dependencies = tomllib.load(handle)["project"]["dependencies"]
spec = next(d for d in dependencies if re.match(r"apache-airflow\s*[><=]", d))
print(re.search(r">=\s*([0-9][0-9.]*)", spec).group(1))
PY
)
venv=.venv-airflow-lowest
installed_version() {
  "$venv/bin/python" -c 'import airflow.providers.fab, airflow; print(airflow.__version__)' 2>/dev/null
}
if [ -x "$venv/bin/python" ] && [ "$(installed_version)" = "$lowest" ]; then
  echo "$venv: apache-airflow $lowest (with the FAB provider) already installed"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
# One resolver run with the exact pin next to the package: newswire's own `apache-airflow>=` range
# can then never pull a newer Airflow in (a later `pip install .` alone could upgrade it).
"$venv/bin/python" -m pip install -q "apache-airflow==$lowest" ".[production]"
installed=$(installed_version) || { echo "$venv: Airflow or its FAB provider does not import" >&2; exit 1; }
if [ "$installed" != "$lowest" ]; then
  echo "$venv: expected apache-airflow $lowest, pip installed $installed" >&2
  exit 1
fi
echo "$venv: apache-airflow $installed"
