#!/usr/bin/env bash
# Prepares a machine for kindish: a Docker engine that answers, and the tools
# the node image build uses. Safe to run again: it only does what is missing.
set -euo pipefail

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
# iptables for dockerd's own NAT rules; tar and xz for images.
command -v iptables >/dev/null 2>&1 || need_apt+=(iptables)

if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "setup: starting dockerd (log: /var/log/dockerd.log)"
  # No systemd on these machines: run the daemon in the background.
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { echo "setup: dockerd did not start; see /var/log/dockerd.log" >&2; tail -20 /var/log/dockerd.log >&2; exit 1; }
fi

command -v go >/dev/null 2>&1 || { echo "setup: Go is required (go.mod says which version)" >&2; exit 1; }
echo "setup: ready ($(docker version --format 'Docker {{.Server.Version}}, API {{.Server.APIVersion}}'))"
