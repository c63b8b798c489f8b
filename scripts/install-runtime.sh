#!/usr/bin/env bash
# Installs what the sandbox drivers need, all from Debian's package archive:
#   crun, debootstrap and iproute2 from bookworm (apt), and runsc 20240729 from bookworm-backports, fetched with
#   a private apt configuration and unpacked into .tools/runsc (the system's sources stay as they are; Debian
#   12's own runsc 20221219 breaks stat on a bookworm userland).
#   Go (golang-go, bookworm) builds the in-sandbox daemon (packages/runtime/daemon) into a static binary;
#   nftables filters and masquerades the traffic of sandboxes created with internet egress; s3fs mounts an
#   S3-compatible bucket for workspaces stored there (RUNTOOLS_WORKSPACE_STORAGE=s3).
# Without root or apt it says what is missing and exits 0: the platform runs, sandboxes report the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$(pwd)/.tools"
runsc_version="0.0~20240729.0"

missing=()
for tool in crun debootstrap ip go nft s3fs; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
runsc_bin="$tools/runsc/usr/bin/runsc"
[ -x "$runsc_bin" ] || missing+=(runsc)
[ ${#missing[@]} -eq 0 ] && exec bash scripts/build-daemon.sh

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "runtools: sandbox runtime not installed (missing: ${missing[*]}); needs root and apt. runtools doctor explains." >&2
  [ -x "$(command -v go)" ] && exec bash scripts/build-daemon.sh
  exit 0
fi

echo "runtools: installing the sandbox runtime (${missing[*]}) from Debian's packages" >&2
packages=()
command -v crun >/dev/null 2>&1 || packages+=(crun)
command -v debootstrap >/dev/null 2>&1 || packages+=(debootstrap)
command -v ip >/dev/null 2>&1 || packages+=(iproute2)
command -v go >/dev/null 2>&1 || packages+=(golang-go)
command -v nft >/dev/null 2>&1 || packages+=(nftables)
command -v s3fs >/dev/null 2>&1 || packages+=(s3fs)
if [ ${#packages[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2
fi

if [ ! -x "$runsc_bin" ]; then
  apt_dir="$tools/apt-backports"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$tools/runsc"
  mirror=$(grep -hoE '^URIs: *\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | sed -n 1p || true)
  mirror=${mirror:-$(grep -hoE '^deb +\S+' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | sed -n 1p || true)}
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "deb $mirror bookworm-backports main" > "$apt_dir/sources.list"
  apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache" -o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update -qq
  (cd "$apt_dir" && apt-get "${apt_opts[@]}" download "runsc=${runsc_version}-4~bpo12+2" >/dev/null 2>&1 \
    || apt-get "${apt_opts[@]}" download runsc >/dev/null)
  deb=$(ls "$apt_dir"/runsc_*.deb | sed -n 1p)
  dpkg -x "$deb" "$tools/runsc"
  "$runsc_bin" --version | sed -n 1p >&2
fi
exec bash scripts/build-daemon.sh
