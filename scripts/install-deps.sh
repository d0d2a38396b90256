#!/usr/bin/env bash
# Installs the Debian packages retention needs to build, test and run its demo,
# skipping the package manager entirely when everything is already present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libpq-dev libcjson-dev uuid-dev zlib1g-dev libssl-dev libcmocka-dev
  postgresql-15 postgresql-client-15 openssl
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "installing: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
else
  sudo=
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
