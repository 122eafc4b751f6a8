#!/bin/sh
# Creates the kubelet's cgroup root before the kubelet starts (see 11-node.conf).
set -eu
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  enable_all() { sed -e 's/ / +/g' -e 's/^/+/' <"/sys/fs/cgroup/$1/cgroup.controllers" >"/sys/fs/cgroup/$1/cgroup.subtree_control"; }
  enable_all /
  for root in kubelet kubelet.slice; do
    mkdir -p "/sys/fs/cgroup/${root}"
    enable_all "${root}"
  done
elif [ ! -d /sys/fs/cgroup/systemd/kubelet ]; then
  mkdir -p /sys/fs/cgroup/systemd/kubelet
fi
