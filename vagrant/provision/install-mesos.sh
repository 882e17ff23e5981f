#!/usr/bin/env bash
# Install the Mesos build made by build-mesos.sh on the master: local there, fetched from the master's
# :8000 on the agents (rsync-synced folders are one-way, so they cannot carry it).
set -euo pipefail
name=mesos-1.11.0-debian12.tar.gz
tarball=/var/cache/mesos-dist/$name
if [ ! -s "$tarball" ]; then
  mkdir -p /var/cache/mesos-dist
  if ! curl -fsS -o "$tarball.tmp" "http://master:8000/$name"; then
    echo "cannot fetch http://master:8000/$name: provision the master first (vagrant up master)" >&2
    exit 1
  fi
  mv "$tarball.tmp" "$tarball"
fi
tar -C / -xzf "$tarball"
ldconfig
mkdir -p /var/lib/mesos /var/log/mesos
