#!/usr/bin/env bash
# Installs, as root on Debian/Ubuntu, the packages the lab, the demo and the tests need. It only
# installs: it never stops, disables or reconfigures a service or process already on the machine
# (the lab starts its own etcd, nginx and sshd inside its own network namespaces, on its own ports).
#   etcd-server etcd-client   etcd and etcdctl run by the lab (the package may start its own etcd
#                             service on a systemd machine; the lab does not use or touch it)
#   openssh-server/-client    one sshd per lab host; ssh/ssh-keygen in tests
#   nginx-light libnginx-mod-stream   the load balancer run by the lab (nginx -t checks)
#   keepalived                the virtual address of the keepalived entry point (lab, keepalived -t checks);
#                             the package does not start it without a keepalived.conf
#   iproute2 util-linux procps        network namespaces, unshare/nsenter, ps
#   openssl ca-certificates sudo tmux curl   fixtures and checks, sudo hosts, the wizard test
#   kubernetes-client         kubectl, only when none is installed
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  etcd-server etcd-client openssh-server openssh-client nginx-light libnginx-mod-stream \
  keepalived iproute2 openssl sudo procps util-linux ca-certificates tmux curl >/dev/null
command -v kubectl >/dev/null || apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
