#!/usr/bin/env bash
# What the tests drive besides the platform: OpenSSH's client (ssh, ssh-keygen), Debian's Chromium (the
# OAuth consent pages and, later, the dashboard, through playwright-core; never a downloaded browser), and for
# the RunMesh devices Debian's userspace WireGuard (wireguard-go, wg from wireguard-tools) and bubblewrap.
# Installed from Debian's archive when missing; without root or apt it says what is missing and exits 0,
# and the tests that need it fail naming it.
set -euo pipefail
missing=()
command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v wireguard-go >/dev/null 2>&1 || missing+=(wireguard-go)
command -v wg >/dev/null 2>&1 || missing+=(wireguard-tools)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "runtools: the tests need ${missing[*]} (Debian packages); install them with apt as root" >&2
  exit 0
fi
echo "runtools: installing ${missing[*]} for the tests" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
