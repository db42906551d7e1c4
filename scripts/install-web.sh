#!/usr/bin/env bash
# Installs GraphiQL's browser assets (graphiql, react, react-dom: pinned in
# web/package-lock.json) into web/node_modules, which `zkreplay serve` serves
# under /graphiql/ so the GraphiQL page needs no CDN. Idempotent: does nothing
# when the directory exists (delete it to reinstall).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -d "$root/web/node_modules" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is required to install GraphiQL's assets (Debian: apt-get install npm)" >&2
  exit 1
fi
# `npm ci` installs exactly the lockfile's versions and fails if package.json disagrees.
npm ci --prefix "$root/web" --no-audit --no-fund
