#!/usr/bin/env bash
# Installs the npm workspaces (only when package-lock.json or package.json changed since the last install)
# and builds every package. Idempotent and quick on a second run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
stamp=node_modules/.runtools-install-stamp
want="$(node -v) $(cat package-lock.json package.json packages/*/package.json apps/*/package.json 2>/dev/null | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "runtools: installing npm packages (node $(node -v))" >&2
  # `npm install` honours the committed lockfile; this npm (11.19) writes lockfiles without the other
  # platforms' optional packages, which `npm ci` then rejects as out of sync.
  npm install --no-audit --no-fund >&2
  # Hash again: the install may have normalised package.json or the lockfile.
  echo "$(node -v) $(cat package-lock.json package.json packages/*/package.json apps/*/package.json 2>/dev/null | sha256sum | cut -c1-16)" > "$stamp"
fi
bash scripts/install-runtime.sh
echo "runtools: building" >&2
npm run --silent build >&2
