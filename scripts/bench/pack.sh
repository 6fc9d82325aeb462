#!/usr/bin/env bash
# Benchmarks `bale pack` against mksquashfs (zstd level 3) in one run on the
# Linux source tree and on 200k small files, cold and warm page cache:
# wall time, peak RSS, image size and the ratios bale/mksquashfs.
# Usage: scripts/bench/pack.sh [CORPUS_DIR...]   (as root, for drop_caches)
# With PFS_REMOUNT=1, cold runs also remount the GlusterFS client of
# scripts/bench/gluster.sh (its caches survive drop_caches).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v mksquashfs >/dev/null || apt-get install -y -qq squashfs-tools time >/dev/null
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
cargo build --release --quiet -p bale
bale=$PWD/target/release/bale
out=${BENCH_OUT:-/var/tmp/bale-bench/out}
mkdir -p "$out"

if [ $# -gt 0 ]; then corpora=("$@"); else mapfile -t corpora < <(scripts/bench/corpus.sh); fi

drop_caches() {
    sync; echo 3 > /proc/sys/vm/drop_caches
    if [ "${PFS_REMOUNT:-0}" = 1 ]; then scripts/bench/gluster.sh remount; fi
}

# measure NAME CMD...: prints "seconds max_rss_kib" of one run
measure() {
    local log=$out/time.log
    /usr/bin/time -f "%e %M" -o "$log" "$@" >/dev/null 2>"$out/stderr.log" || {
        cat "$out/stderr.log" >&2; return 1; }
    cat "$log"
}

printf '%-28s %-6s %-10s %9s %10s %12s\n' corpus cache tool seconds rss_MiB image_MiB
for corpus in "${corpora[@]}"; do
    name=$(basename "$corpus")
    files=$(find "$corpus" -type f | wc -l)
    for cache in cold warm; do
        declare -A t=() r=() s=()
        for tool in mksquashfs bale; do
            img=$out/$name.$tool.sqfs
            rm -f "$img"
            if [ "$cache" = cold ]; then drop_caches; else find "$corpus" -type f -print0 | xargs -0 cat >/dev/null; fi
            if [ "$tool" = mksquashfs ]; then
                read -r secs rss < <(measure mksquashfs "$corpus" "$img" -comp zstd -Xcompression-level 3 -noappend -quiet -no-progress)
            else
                read -r secs rss < <(measure "$bale" pack -q "$corpus" "$img")
            fi
            t[$tool]=$secs; r[$tool]=$rss; s[$tool]=$(stat -c %s "$img")
            printf '%-28s %-6s %-10s %9.2f %10.1f %12.1f\n' "$name ($files files)" "$cache" "$tool" \
                "$secs" "$(echo "$rss/1024" | bc -l)" "$(echo "${s[$tool]}/1048576" | bc -l)"
        done
        printf '%-28s %-6s %-10s %9.2fx %9.2fx %11.3fx\n' "$name" "$cache" "ratio" \
            "$(echo "${t[bale]}/${t[mksquashfs]}" | bc -l)" \
            "$(echo "${r[bale]}/${r[mksquashfs]}" | bc -l)" \
            "$(echo "${s[bale]}/${s[mksquashfs]}" | bc -l)"
        unset t r s
    done
done
