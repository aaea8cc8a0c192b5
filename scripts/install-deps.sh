#!/usr/bin/env bash
# Installs the Debian packages Petrel builds and tests with, only those missing, so a fresh
# Debian 12 machine with Swift on PATH needs nothing else.
set -euo pipefail
packages=(pkg-config libuv1-dev libssl-dev libcurl4-openssl-dev libhiredis-dev redis-server node-ws python3-venv libclang-rt-14-dev chromium)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi
