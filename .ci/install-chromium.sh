#!/usr/bin/env bash
# Installs Debian's chromium when no Chromium is on this machine, so the browser tests run (they
# drive it with playwright-core through its executablePath; npm never downloads a browser here).
# Idempotent: does nothing when chromium is already installed. Needs root (CI runs as root).
set -euo pipefail
for bin in "${CHROMIUM_PATH:-}" chromium chromium-browser google-chrome; do
  if [ -n "$bin" ] && command -v "$bin" >/dev/null 2>&1; then
    exit 0
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "install-chromium: not root; install chromium yourself (apt-get install chromium) to run the browser tests" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
command -v chromium
