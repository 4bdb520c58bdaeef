#!/usr/bin/env bash
# Fetches the official Compose Specification JSON schema (compose-spec/compose-spec, $id
# compose_spec.json) from the npm registry, where the `dclint` package ships it as
# schemas/compose.schema.json, into .cache/compose-spec/ for tests/test_compose.py.
# Run by `infra/setup.sh --test`; safe to run again (skips when the file is there).
set -euo pipefail
cd "$(dirname "$0")/.."

package=dclint@3.1.0
target=.cache/compose-spec/compose.schema.json
[ -s "$target" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball=$(cd "$work" && npm pack --silent "$package")
tar -xzf "$work/$tarball" -C "$work" package/schemas/compose.schema.json
mkdir -p "$(dirname "$target")"
mv "$work/package/schemas/compose.schema.json" "$target"
echo "compose-spec schema from npm $package: $target"
