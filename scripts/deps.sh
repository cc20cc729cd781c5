#!/usr/bin/env bash
# Installs the Debian packages a0migrate needs to build, test and run its
# demo, when any is missing. Uses sudo when not root.
set -euo pipefail

pkgs=(build-essential cmake pkg-config git ca-certificates curl jq
      libczmq-dev libzmq3-dev libcurl4-openssl-dev libmsgpack-dev
      libhiredis-dev libjansson-dev zlib1g-dev libmicrohttpd-dev
      libcrypt-dev libcmocka-dev redis-server iproute2 python3
      python3-jsonschema clang-format clang libclang-rt-14-dev)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
