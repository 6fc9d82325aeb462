#!/usr/bin/env bash
# A real parallel file system on this machine for benchmarks: GlusterFS
# (Debian's glusterfs-server) with a two-brick distributed volume "bale"
# served on 127.0.0.2 and FUSE-mounted at $PFS_MNT (default /mnt/bale-pfs).
#
#   gluster.sh up [DELAY_US]   start (optionally delaying every brick file
#                              operation by DELAY_US µs, a stand-in for
#                              metadata-server latency)
#   gluster.sh remount         remount the client (its caches survive drop_caches)
#   gluster.sh down            unmount, stop the volume and glusterd, delete the bricks
#
# Facts this relies on: the gluster CLI rejects localhost/127.0.0.1 as a brick
# host but takes 127.0.0.2; bricks on the root file system need "force"; the
# delay translator is selected with debug.delay-gen=posix and cannot change
# while the volume runs; a deleted volume's brick directories cannot be reused.
set -euo pipefail
mnt=${PFS_MNT:-/mnt/bale-pfs}
bricks=/var/tmp/bale-gluster
vol=bale
host=127.0.0.2
g() { gluster --mode=script "$@"; }

up() {
    local delay=${1:-0}
    dpkg -s glusterfs-server >/dev/null 2>&1 ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends glusterfs-server glusterfs-client >/dev/null
    if ! { [ -f /run/glusterd.pid ] && kill -0 "$(cat /run/glusterd.pid)" 2>/dev/null; }; then
        /usr/sbin/glusterd -p /run/glusterd.pid
    fi
    for _ in $(seq 50); do g volume list >/dev/null 2>&1 && break; sleep 0.2; done
    if ! g volume info "$vol" >/dev/null 2>&1; then
        mkdir -p "$bricks/b1" "$bricks/b2"
        g volume create "$vol" transport tcp "$host:$bricks/b1" "$host:$bricks/b2" force >/dev/null
    fi
    local current
    current=$(g volume get "$vol" delay-gen.delay-duration | awk 'NR>2{print $2}')
    if g volume info "$vol" | grep -q '^Status: Started' &&
        { [ "$delay" -gt 0 ] && [ "$current" != "$delay" ] ||
          [ "$delay" = 0 ] && g volume get "$vol" debug.delay-gen | grep -q posix; }; then
        g volume stop "$vol" >/dev/null   # the delay translator only changes while stopped
    fi
    if [ "$delay" = 0 ]; then
        g volume reset "$vol" debug.delay-gen >/dev/null
    else
        g volume set "$vol" debug.delay-gen posix >/dev/null
        g volume set "$vol" delay-gen.delay-percentage 100 >/dev/null
        g volume set "$vol" delay-gen.delay-duration "$delay" >/dev/null
        g volume reset "$vol" delay-gen.enable >/dev/null
    fi
    g volume info "$vol" | grep -q '^Status: Started' || g volume start "$vol" >/dev/null
    for _ in $(seq 50); do [ "$(g volume status "$vol" | grep -c '^Brick.* Y ')" = 2 ] && break; sleep 0.2; done
    mkdir -p "$mnt"
    findmnt -n "$mnt" >/dev/null || mount -t glusterfs "$host:/$vol" "$mnt"
    for _ in $(seq 100); do stat "$mnt" >/dev/null 2>&1 && break; sleep 0.2; done
    echo "$mnt"
}

remount() {
    umount "$mnt"
    mount -t glusterfs "$host:/$vol" "$mnt"
    for _ in $(seq 100); do stat "$mnt" >/dev/null 2>&1 && break; sleep 0.2; done
}

down() {
    findmnt -n "$mnt" >/dev/null && { umount "$mnt" || umount -l "$mnt"; }
    if [ -f /run/glusterd.pid ] && kill -0 "$(cat /run/glusterd.pid)" 2>/dev/null; then
        g volume info "$vol" 2>/dev/null | grep -q '^Status: Started' && g volume stop "$vol" >/dev/null
        g volume delete "$vol" >/dev/null 2>&1 || true
        kill "$(cat /run/glusterd.pid)"
    fi
    for f in /var/run/gluster/vols/"$vol"/*.pid; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
    rm -rf "$bricks" /var/lib/glusterd/vols/"$vol"
}

case "${1:-}" in
    up) up "${2:-0}" ;;
    remount) remount ;;
    down) down ;;
    *) echo "usage: gluster.sh up [DELAY_US] | remount | down" >&2; exit 2 ;;
esac
