#!/usr/bin/env bash
# Prepare this machine for sg-harness; idempotent, and quick when everything is there.
#   - Debian packages: Docker engine, nftables, nmap, iproute2, debootstrap, docker-compose,
#     chromium (the browser tests drive it headless through Playwright; no browser download)
#   - a Docker engine that answers (started in the background if none does)
#   - room in the kernel's neighbour (ARP) table, which all lab namespaces share
#   - .venv with the package installed in editable mode (with the dev tools)
#   - the images (scripts/build-images.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    say "sg-harness needs root (it enters containers' network namespaces): run with sudo"
    exit 2
fi

# -- Debian packages ------------------------------------------------------------------------
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v nmap >/dev/null 2>&1 || need+=(nmap)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
command -v sysctl >/dev/null 2>&1 || need+=(procps)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v chromium >/dev/null 2>&1 || need+=(chromium)  # the browser tests (headless)
# libnftables: policies are loaded through it from a thread inside each namespace
ldconfig -p | grep -q 'libnftables\.so\.1 ' || need+=(libnftables1)
command -v busybox >/dev/null 2>&1 || need+=(busybox-static)  # make bench: the container floor
if [ ${#need[@]} -gt 0 ]; then
    say "installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# -- Docker engine --------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
    say "no Docker engine answers: starting dockerd in the background (log: /var/log/sgh-dockerd.log)"
    nohup dockerd >/var/log/sgh-dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    if ! docker info >/dev/null 2>&1; then
        say "dockerd did not come up; last lines of its log:"
        tail -n 20 /var/log/sgh-dockerd.log >&2 || true
        exit 2
    fi
fi

# -- Neighbour table ------------------------------------------------------------------------
# The kernel's ARP table is one table for all network namespaces (1024 entries by default):
# two 31-node labs at once overflow it, and packets to new neighbours are dropped.
if [ "$(sysctl -n net.ipv4.neigh.default.gc_thresh3)" -lt 65536 ]; then
    say "raising the kernel's neighbour table limits (one table for every lab namespace)"
    sysctl -q -w net.ipv4.neigh.default.gc_thresh1=8192 \
        net.ipv4.neigh.default.gc_thresh2=32768 net.ipv4.neigh.default.gc_thresh3=65536
fi

# -- Python environment ---------------------------------------------------------------------
stamp=.venv/.sgh-installed
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "creating .venv and installing sg-harness with its dev tools"
    python3 -m venv .venv
    if ! { .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -e '.[dev]'; } \
            >/tmp/sgh-pip.log 2>&1; then
        say "pip install failed; last lines of /tmp/sgh-pip.log:"
        tail -n 20 /tmp/sgh-pip.log >&2
        exit 2
    fi
    echo "$want" > "$stamp"
fi

# A link an older setup made to Debian's python3-nftables: the project carries its own binding.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ -L "$site/nftables" ]; then rm -f "$site/nftables"; fi

# -- Images ---------------------------------------------------------------------------------
bash scripts/build-images.sh
say "ready"
