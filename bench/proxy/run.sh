#!/usr/bin/env bash
# Proxy benchmark: installs wrk, nginx and caddy from Debian if missing, builds ./gateway if
# missing, then runs bench/proxy/run.ts. ROUNDS and SECONDS tune the length (defaults 5 and 4).
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
for tool in wrk nginx caddy curl truncate; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq wrk nginx-light caddy curl coreutils >/dev/null
fi
[ -x ./gateway ] || npm run build
exec node_modules/.bin/bun bench/proxy/run.ts
