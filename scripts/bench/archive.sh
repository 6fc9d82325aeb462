#!/usr/bin/env bash
# Benchmarks `bale pack ARCHIVE` (a tar archive packed without extracting
# it) against squashfs-tools-ng's tar2sqfs (zstd level 3, one job per
# core) in one run, on Debian's Linux 6.1 source tarball (≈ 80k files) as
# shipped (xz) and recompressed (plain tar, gzip, zstd), warm page cache:
# wall time, peak RSS, image size and the ratios bale/tar2sqfs.
# Usage: scripts/bench/archive.sh   (as root: installs what it needs)
set -euo pipefail
cd "$(dirname "$0")/../.."
need=()
command -v tar2sqfs >/dev/null || need+=(squashfs-tools-ng)
command -v zstd >/dev/null || need+=(zstd)
[ -x /usr/bin/time ] || need+=(time)
[ ${#need[@]} -eq 0 ] || apt-get install -y -qq "${need[@]}" >/dev/null
cargo build --release --quiet -p bale
bale=$PWD/target/release/bale
bench=${BENCH_DIR:-/var/tmp/bale-bench}
out=$bench/out/archive
mkdir -p "$out"

# The tarball inside Debian's linux-source-6.1 package, and recompressed.
src=$bench/tarballs
if [ ! -f "$src/linux.tar.zst" ]; then
    mkdir -p "$src"
    (cd "$bench" && ls linux-source-6.1_*.deb >/dev/null 2>&1 || apt-get download linux-source-6.1 >&2)
    dpkg-deb --fsys-tarfile "$bench"/linux-source-6.1_*.deb |
        tar -xO ./usr/src/linux-source-6.1.tar.xz >"$src/linux.tar.xz"
    xz -dc "$src/linux.tar.xz" >"$src/linux.tar"
    gzip -c "$src/linux.tar" >"$src/linux.tar.gz"
    zstd -q -T0 "$src/linux.tar" -o "$src/linux.tar.zst"
fi

# measure CMD...: prints "seconds max_rss_kib" of one run
measure() {
    /usr/bin/time -f "%e %M" -o "$out/time.log" "$@" >/dev/null 2>"$out/stderr.log" || {
        cat "$out/stderr.log" >&2; return 1; }
    cat "$out/time.log"
}

printf '%-14s %-10s %9s %10s %12s\n' archive tool seconds rss_MiB image_MiB
for archive in linux.tar linux.tar.gz linux.tar.zst linux.tar.xz; do
    cat "$src/$archive" >/dev/null
    declare -A t=() r=() s=()
    for tool in tar2sqfs bale; do
        img=$out/$archive.$tool.sqfs
        rm -f "$img"
        if [ "$tool" = tar2sqfs ]; then
            read -r secs rss < <(measure sh -c 'exec tar2sqfs -q -c zstd -X level=3 -j "$(nproc)" "$1" <"$2"' \
                sh "$img" "$src/$archive")
        else
            read -r secs rss < <(measure "$bale" pack -q "$src/$archive" "$img")
        fi
        t[$tool]=$secs; r[$tool]=$rss; s[$tool]=$(stat -c %s "$img")
        printf '%-14s %-10s %9.2f %10.1f %12.1f\n' "$archive" "$tool" "$secs" \
            "$(echo "$rss/1024" | bc -l)" "$(echo "${s[$tool]}/1048576" | bc -l)"
    done
    printf '%-14s %-10s %8.2fx %9.2fx %11.3fx\n' "$archive" ratio \
        "$(echo "${t[bale]}/${t[tar2sqfs]}" | bc -l)" \
        "$(echo "${r[bale]}/${r[tar2sqfs]}" | bc -l)" \
        "$(echo "${s[bale]}/${s[tar2sqfs]}" | bc -l)"
    unset t r s
done
