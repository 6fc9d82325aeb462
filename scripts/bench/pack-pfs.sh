#!/usr/bin/env bash
# `bale pack` vs mksquashfs with the source on a parallel file system: starts
# the local GlusterFS volume of scripts/bench/gluster.sh, copies the Linux
# source tree onto it once, and runs scripts/bench/pack.sh there (cold runs
# drop the page cache and remount the client). Usage: pack-pfs.sh [DELAY_US]
set -euo pipefail
cd "$(dirname "$0")/../.."
mnt=$(scripts/bench/gluster.sh up "${1:-0}")
linux=$(scripts/bench/corpus.sh | head -n 1)
if [ ! -f "$mnt/linux-source-6.1/.copied" ]; then
    rm -rf "$mnt/linux-source-6.1"
    cp -a "$linux" "$mnt/"
    touch "$mnt/linux-source-6.1/.copied"
fi
BENCH_OUT=/var/tmp/bale-bench/out PFS_REMOUNT=1 scripts/bench/pack.sh "$mnt/linux-source-6.1"
