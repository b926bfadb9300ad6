#!/usr/bin/env bash
# Installs a software WebGPU adapter for CI machines without a GPU: Mesa 25's
# lavapipe (Vulkan on the CPU) from bookworm-backports, which Dawn (the npm
# `webgpu` package) accepts; Debian 12's own Mesa 22 lavapipe is rejected by Dawn.
# With --chromium it also installs Debian's chromium for the browser smoke test.
#
# Run as root, non-interactively; safe to run again (every step checks first).
# The backports source is derived from the machine's own Debian source, so no
# mirror host name is written here.
set -euo pipefail

want_chromium=0
for arg in "$@"; do
  case "$arg" in
    --chromium) want_chromium=1 ;;
    *) echo "webgpu-setup: unknown argument '$arg' (accepted: --chromium)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "webgpu-setup: must run as root (apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

main_sources=/etc/apt/sources.list.d/debian.sources
backports_sources=/etc/apt/sources.list.d/backports.sources

# Major version of the installed Mesa Vulkan drivers, or 0.
mesa_major() {
  local v
  v=$(dpkg-query -W -f='${Status} ${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  case "$v" in
    "install ok installed "*) v=${v##* }; v=${v#*:}; echo "${v%%.*}" ;;
    *) echo 0 ;;
  esac
}

updated=0
apt_update() {
  if [ "$updated" -eq 0 ]; then
    apt-get update -qq
    updated=1
  fi
}

if [ "$(mesa_major)" -ge 25 ]; then
  echo "webgpu-setup: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) already installed"
else
  if [ ! -s "$backports_sources" ]; then
    if [ ! -r "$main_sources" ]; then
      echo "webgpu-setup: $main_sources not found; cannot derive a bookworm-backports source" >&2
      exit 1
    fi
    # Copy the stanza that serves 'bookworm bookworm-updates' with its suites replaced.
    awk 'BEGIN{RS="";ORS="\n\n"} /Suites: bookworm bookworm-updates/ {sub(/Suites: [^\n]*/,"Suites: bookworm-backports"); print; exit}' \
      "$main_sources" > "$backports_sources.tmp"
    if [ ! -s "$backports_sources.tmp" ]; then
      rm -f "$backports_sources.tmp"
      echo "webgpu-setup: no 'Suites: bookworm bookworm-updates' stanza in $main_sources" >&2
      exit 1
    fi
    mv "$backports_sources.tmp" "$backports_sources"
    echo "webgpu-setup: wrote $backports_sources"
  fi
  apt_update
  apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
  echo "webgpu-setup: installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
fi

if [ "$want_chromium" -eq 1 ]; then
  if dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q '^install ok installed'; then
    echo "webgpu-setup: chromium $(dpkg-query -W -f='${Version}' chromium) already installed"
  else
    apt_update
    apt-get install -y -qq chromium >/dev/null
    echo "webgpu-setup: installed chromium $(dpkg-query -W -f='${Version}' chromium)"
  fi
fi
