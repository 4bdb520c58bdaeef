#!/usr/bin/env bash
# Builds SeaweedFS's `weed` (Apache-2.0), the S3-compatible server tests/test_object_storage.py
# runs the archive and processed roots on, from the Go module proxy into
#   ${NEWSWIRE_OBJECTSTORE_HOME:-~/.cache/newswire/seaweedfs}/weed
# `go install pkg@version` refuses the module (its go.mod has replace directives), so the module
# is downloaded and built as the main module in a scratch copy. Needs the go command (1.26+).
# Run by `infra/setup.sh --test`; safe to run again: skips when the cached build is of this version.
set -euo pipefail

module=github.com/seaweedfs/seaweedfs
version=v0.0.0-20261109003541-7506e5f91cd6
target="${NEWSWIRE_OBJECTSTORE_HOME:-$HOME/.cache/newswire/seaweedfs}"
if [ "$(cat "$target/.complete" 2>/dev/null)" = "$version" ] && [ -x "$target/weed" ]; then
  exit 0
fi
command -v go >/dev/null || { echo "infra/objectstore/install.sh: needs the go command" >&2; exit 1; }

work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
source_dir=$(cd "$work" && go mod download -json "$module@$version" |
             sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
cp -r "$source_dir" "$work/src"
chmod -R u+w "$work/src"
mkdir -p "$target"
rm -f "$target/.complete"
(cd "$work/src" && GOFLAGS="${GOFLAGS:-} -mod=mod" go build -trimpath -ldflags="-s -w" -o "$target/weed" ./weed)
"$target/weed" version >/dev/null 2>&1
echo "$version" > "$target/.complete"
echo "SeaweedFS $module@$version: $target/weed ($(du -m "$target/weed" | cut -f1) MB, built in ${SECONDS} s)"
