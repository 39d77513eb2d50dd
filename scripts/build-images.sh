#!/usr/bin/env bash
# Build the sg-harness images, skipping what is already built from the same sources.
# The Debian base is debian:bookworm-slim where a registry answers, else a bookworm made
# offline with debootstrap (from Debian's package mirror) and imported as sgh-base:bookworm.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[images] %s\n' "$*" >&2; }

# The image runs the harness's own listener (harness/adapters/listener.py) as sgh-serve, the
# same code the netns runtime serves its nodes with.
hash=$(cat images/instance/Dockerfile harness/adapters/listener.py | sha256sum | cut -c1-12)
if docker image inspect "sgh-instance:$hash" >/dev/null 2>&1; then
    docker tag "sgh-instance:$hash" sgh-instance:latest
    exit 0
fi

base=""
if docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
    base=debian:bookworm-slim
elif timeout 60 docker pull -q debian:bookworm-slim >/dev/null 2>&1; then
    base=debian:bookworm-slim
elif docker image inspect sgh-base:bookworm >/dev/null 2>&1; then
    base=sgh-base:bookworm
else
    mirror=$( (grep -rhoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/ \
        2>/dev/null || true) | awk '{print $2}' | grep -E '/debian/?$' | head -n 1 || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    say "no registry answers: building a Debian bookworm base offline with debootstrap ($mirror)"
    root=$(mktemp -d /tmp/sgh-rootfs.XXXXXX)
    trap 'rm -rf "$root"' EXIT
    debootstrap --variant=minbase bookworm "$root" "$mirror" >/tmp/sgh-debootstrap.log 2>&1 || {
        say "debootstrap failed; see /tmp/sgh-debootstrap.log"; tail -n 5 /tmp/sgh-debootstrap.log >&2; exit 2; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import - sgh-base:bookworm >/dev/null
    base=sgh-base:bookworm
fi

say "building sgh-instance from $base"
context=$(mktemp -d /tmp/sgh-context.XXXXXX)
trap 'rm -rf "$context" ${root:-}' EXIT
cp images/instance/Dockerfile "$context/"
cp harness/adapters/listener.py "$context/sgh-serve"
if ! DOCKER_BUILDKIT=0 docker build --build-arg "BASE=$base" -t "sgh-instance:$hash" "$context" \
        >/tmp/sgh-build.log 2>&1; then
    say "docker build failed; last lines of /tmp/sgh-build.log:"; tail -n 15 /tmp/sgh-build.log >&2; exit 2
fi
docker tag "sgh-instance:$hash" sgh-instance:latest
