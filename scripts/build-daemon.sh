#!/usr/bin/env bash
# Builds the in-sandbox daemon (packages/runtime/daemon, Go, standard library only) into a static binary at
# packages/runtime/daemon/bin/runtools-daemon; every sandbox runs it as its first process. Rebuilt only when
# a source file is newer than the binary.
set -euo pipefail
cd "$(dirname "$0")/../packages/runtime/daemon"
out=bin/runtools-daemon
if [ -x "$out" ] && [ -z "$(find . -name '*.go' -newer "$out" -o -name go.mod -newer "$out")" ]; then exit 0; fi
echo "runtools: building the in-sandbox daemon" >&2
cache="$(pwd)/../../../.tools/go"
mkdir -p bin "$cache"
GOCACHE="$cache/cache" GOPATH="$cache/path" GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 \
  go build -trimpath -ldflags='-s -w' -o "$out.tmp" .
mv "$out.tmp" "$out"
