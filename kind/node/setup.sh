#!/bin/bash
# Runs inside the node root filesystem while the image is built (podman run --rootfs): the
# systemd layout of a kind node, and the preloaded images imported into containerd.
set -euo pipefail

# Units a container has no use for; kind's node image strips the same.
rm -f /lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service \
  /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
  /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
  /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
grep -q '^ReadKMsg=no' /etc/systemd/journald.conf || echo 'ReadKMsg=no' >>/etc/systemd/journald.conf
systemctl enable containerd.service kubelet.service undo-mount-hacks.service >/dev/null 2>&1
systemctl mask systemd-binfmt.service >/dev/null 2>&1
mkdir -p /etc/kubernetes/manifests /etc/cni/net.d /opt/cni

# Debian installs the CNI plugins in /usr/lib/cni; containerd looks in /opt/cni/bin.
ln -sfn /usr/lib/cni /opt/cni/bin

# Preload: images land in containerd's content store, compressed and not unpacked. The CRI
# unpacks an image for the node's snapshotter when a container first uses it, so the same
# image serves overlayfs and native nodes, and a node's /var holds each layer once.
# A containerd store cached from an earlier build with the same archives is used as it is.
if [ -d /var/lib/containerd/io.containerd.content.v1.content ]; then
  echo "containerd store reused"
  exit 0
fi
containerd >/tmp/containerd.log 2>&1 &
pid=$!
for _ in $(seq 1 50); do
  ctr version >/dev/null 2>&1 && break
  sleep 0.2
done
for archive in /preload/*.tar; do
  ctr -n k8s.io images import --no-unpack --compress-blobs "${archive}" >/dev/null
done
ctr -n k8s.io images ls -q | grep -v '^sha256:' | sort
kill "${pid}"
wait "${pid}" || true
rm -rf /var/lib/containerd/tmpmounts /var/lib/containerd/io.containerd.runtime.v2.task
