#!/usr/bin/env bash
# Installs what the lab, the demo and the tests need on Debian/Ubuntu (as root): the real etcd,
# OpenSSH server, nginx with its stream module, iproute2, openssl, sudo, and kubectl if missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  etcd-server etcd-client openssh-server openssh-client nginx-light libnginx-mod-stream \
  iproute2 openssl sudo procps util-linux ca-certificates tmux curl >/dev/null
# The packages' own services are not wanted: the lab runs etcd and nginx itself, per host.
systemctl disable --now etcd nginx >/dev/null 2>&1 || true
pkill -x etcd || true
command -v kubectl >/dev/null || apt-get install -y -qq kubernetes-client >/dev/null
