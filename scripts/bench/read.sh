#!/usr/bin/env bash
# Benchmarks reading one image (the Linux source tree packed by bale pack)
# through a kernel squashfs loop mount, squashfuse_ll, squashfuse and
# `bale mount`: mount-to-ready time, `find -ls`, md5sum of every file, and
# a Python-import-like workload (stat+open+read of 5,000 small files in
# random order, one thread), each cold (caches dropped, fresh mount) and
# warm (run again on that mount); the FUSE servers' peak RSS. Prints every
# time and the ratios to the kernel mount and to squashfuse_ll. Mount-to-
# ready is the median of the three cold mounts (binaries and image not in
# the page cache) and of five warm ones.
# Usage: scripts/bench/read.sh [CORPUS_DIR]   (as root: mounts, drop_caches)
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in mksquashfs squashfuse squashfuse_ll python3; do
    command -v "$tool" >/dev/null || { echo "read.sh: $tool missing (apt-get install squashfs-tools squashfuse python3)" >&2; exit 1; }
done
cargo build --release --quiet -p bale
bale=$PWD/target/release/bale
out=${BENCH_OUT:-/var/tmp/bale-bench/out}
mkdir -p "$out"
if [ $# -gt 0 ]; then corpus=$1; else mapfile -t corpora < <(scripts/bench/corpus.sh); corpus=${corpora[0]}; fi
image=$out/$(basename "$corpus").read.sqfs
[ -f "$image" ] || "$bale" pack -q "$corpus" "$image"
mnt=$out/read-mnt
mkdir -p "$mnt"
tools=(kernel squashfuse_ll squashfuse bale)

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { echo "$EPOCHREALTIME"; }
elapsed() { echo "$(now) - $1" | bc -l; }

# mount_with TOOL: mounts $image on $mnt; sets ready (seconds until a file
# of the image can be stat'ed) and pid (the server, empty for the kernel).
mount_with() {
    local t0; t0=$(now)
    case $1 in
        kernel) mount -t squashfs -o loop,ro "$image" "$mnt" ;;
        squashfuse_ll) squashfuse_ll "$image" "$mnt" ;;
        squashfuse) squashfuse "$image" "$mnt" ;;
        bale) "$bale" mount "$image" "$mnt" ;;
    esac
    until stat "$mnt/Makefile" >/dev/null 2>&1; do sleep 0.001; done
    ready=$(elapsed "$t0")
    pid=$( [ "$1" = kernel ] || pgrep -n -f "$1.* $mnt\$|$1 mount .*$mnt" || true)
}

unmount() {
    umount "$mnt"
    while mountpoint -q "$mnt"; do sleep 0.01; done
}

peak_rss_mib() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# The Python-import-like workload reads the same 5,000 small files
# (< 16 KiB) in the same random order through every mount.
sample=$out/read-sample.txt
if [ ! -s "$sample" ]; then
    (cd "$corpus" && find . -type f -size -16k -printf '%P\n') |
        python3 -c 'import random,sys; l=sys.stdin.read().split("\n")[:-1]; random.Random(5000).shuffle(l); print("\n".join(l[:5000]))' >"$sample"
fi
import_like='
import os, sys
root = sys.argv[1]
for rel in filter(None, open(sys.argv[2]).read().split("\n")):
    p = os.path.join(root, rel)
    os.stat(p)
    with open(p, "rb") as f:
        f.read()
'

run_workload() {
    case $1 in
        find-ls) find "$mnt" -ls >/dev/null ;;
        md5sum) find "$mnt" -type f -print0 | xargs -0 md5sum >/dev/null ;;
        import) python3 -c "$import_like" "$mnt" "$sample" ;;
    esac
}

declare -A T RSS READY
for tool in "${tools[@]}"; do
    readies=()
    for work in find-ls md5sum import; do
        drop_caches
        mount_with "$tool"
        readies+=("$ready")
        for cache in cold warm; do
            t0=$(now)
            run_workload "$work"
            T[$work.$cache.$tool]=$(elapsed "$t0")
        done
        if [ -n "$pid" ]; then
            r=$(peak_rss_mib "$pid")
            if [ -z "${RSS[$tool]:-}" ] || (( $(echo "$r > ${RSS[$tool]}" | bc) )); then RSS[$tool]=$r; fi
        fi
        unmount
    done
    READY[$tool]=$(printf '%s\n' "${readies[@]}" | sort -n | sed -n 2p)
    echo "done: $tool" >&2
done

# Mount-to-ready with warm caches: median of five mounts.
declare -A WREADY
for tool in "${tools[@]}"; do
    readies=()
    for _ in 1 2 3 4 5; do mount_with "$tool"; readies+=("$ready"); unmount; done
    WREADY[$tool]=$(printf '%s\n' "${readies[@]}" | sort -n | sed -n 3p)
done

files=$(find "$corpus" -type f | wc -l)
echo "image: $image ($(du -m "$image" | cut -f1) MiB, $files files; $(nproc) cores)"
printf '%-16s %10s %14s %11s %10s %10s %12s\n' case kernel squashfuse_ll squashfuse bale bale/kernel bale/sqfs_ll
line() { # NAME KEY SCALE UNIT
    local k=${T[$2.kernel]}
    printf '%-16s' "$1"
    for tool in "${tools[@]}"; do printf ' %10.3f%s' "$(echo "${T[$2.$tool]:-0}" | bc -l)" "$3"; done
    printf ' %10.2fx %11.2fx\n' "$(echo "${T[$2.bale]}/$k" | bc -l)" "$(echo "${T[$2.bale]}/${T[$2.squashfuse_ll]}" | bc -l)"
}
for tool in "${tools[@]}"; do
    T[ready.cold.$tool]=$(echo "${READY[$tool]} * 1000" | bc -l)
    T[ready.warm.$tool]=$(echo "${WREADY[$tool]} * 1000" | bc -l)
done
line "ready cold" ready.cold "ms"
line "ready warm" ready.warm "ms"
for work in find-ls md5sum import; do
    for cache in cold warm; do line "$work $cache" "$work.$cache" "s"; done
done
printf '%-16s %10s' "peak RSS (MiB)" "-"
for tool in squashfuse_ll squashfuse bale; do printf ' %11s' "${RSS[$tool]:-?}"; done
echo
