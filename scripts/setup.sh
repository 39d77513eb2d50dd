#!/usr/bin/env bash
# Prepare this machine for sg-harness; idempotent, and quick when everything is there.
#   - what harness/adapters/system.py lists (sgh doctor --dev): Debian packages (Docker
#     engine, nftables, nmap, iproute2, debootstrap, docker-compose, chromium for the browser
#     tests), a Docker engine that answers, room in the kernel's neighbour (ARP) table
#   - .venv with the package installed in editable mode (with the dev tools)
#   - the images (scripts/build-images.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    say "sg-harness needs root (it enters containers' network namespaces): run with sudo"
    exit 2
fi

# -- Debian packages, a Docker engine, the kernel's neighbour table --------------------------
# One table of what sg-harness needs (harness/adapters/system.py, also 'sgh doctor'), read by
# the system's Python before the venv exists: it installs and starts what is missing.
if ! report=$(PYTHONPATH=. python3 -m harness.adapters.system --fix --dev); then
    printf '%s\n' "$report" | grep -v '^ok' >&2
    exit 2
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
