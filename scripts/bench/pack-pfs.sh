#!/usr/bin/env bash
# `bale pack` vs mksquashfs with the source on a parallel file system: starts
# the local GlusterFS volume of scripts/bench/gluster.sh, copies the Linux
# source tree onto it once, and runs scripts/bench/pack.sh there (cold runs
# drop the page cache and remount the client).
# Usage: pack-pfs.sh [DELAY_US [CORPUS_DIR]]
#   DELAY_US adds that much latency to every brick file operation (after the
#   copy); CORPUS_DIR defaults to the Linux source tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
delay=${1:-0}
corpus=${2:-$(scripts/bench/corpus.sh | head -n 1)}
name=$(basename "$corpus")
mnt=$(scripts/bench/gluster.sh up 0)
if [ ! -f "$mnt/$name/.copied" ]; then
    rm -rf "${mnt:?}/$name"
    cp -a "$corpus" "$mnt/$name"
    touch "$mnt/$name/.copied"
fi
scripts/bench/gluster.sh up "$delay" >/dev/null
BENCH_OUT=/var/tmp/bale-bench/out PFS_REMOUNT=1 scripts/bench/pack.sh "$mnt/$name"
