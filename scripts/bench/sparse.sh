#!/usr/bin/env bash
# Benchmarks sparse files: a 64 GiB file holding 300 KB of data (three
# islands), packed from a directory (bale vs mksquashfs) and from a GNU tar
# --sparse archive (bale vs tar2sqfs), then copied with `cp` out of a
# kernel loop mount and out of `bale mount` (which answers SEEK_DATA /
# SEEK_HOLE): wall time, peak RSS, image size and the ratios.
# Usage: scripts/bench/sparse.sh   (as root: installs what it needs, mounts)
set -euo pipefail
cd "$(dirname "$0")/../.."
need=()
command -v mksquashfs >/dev/null || need+=(squashfs-tools)
command -v tar2sqfs >/dev/null || need+=(squashfs-tools-ng)
[ -x /usr/bin/time ] || need+=(time)
[ ${#need[@]} -eq 0 ] || apt-get install -y -qq "${need[@]}" >/dev/null
cargo build --release --quiet -p bale
bale=$PWD/target/release/bale
out=${BENCH_DIR:-/var/tmp/bale-bench}/out/sparse
rm -rf "$out" && mkdir -p "$out/src" "$out/kernel" "$out/fuse"
trap 'umount "$out/kernel" 2>/dev/null; "$bale" umount "$out/fuse" 2>/dev/null; rm -rf "$out"' EXIT

gib=$((1 << 30))
truncate -s $((64 * gib)) "$out/src/big"
for at in 0 $((5 * gib + 12345)) $((64 * gib - 100000)); do
    head -c 100000 /dev/urandom | dd of="$out/src/big" bs=1M seek="$at" \
        oflag=seek_bytes conv=notrunc status=none
done
tar --format=posix --sparse -cf "$out/big.tar" -C "$out/src" .

# measure CMD...: prints "seconds max_rss_kib" of one run
measure() {
    /usr/bin/time -f "%e %M" -o "$out/time.log" "$@" >/dev/null 2>"$out/stderr.log" || {
        cat "$out/stderr.log" >&2; return 1; }
    cat "$out/time.log"
}
row() { # NAME SECONDS RSS_KIB IMAGE
    local size=-
    [ -n "${4:-}" ] && size=$(stat -c %s "$4")
    printf '%-34s %9.2f %9.1f %10s\n' "$1" "$2" "$(echo "$3 / 1024" | bc -l)" "$size"
}
ratio() { printf '%-34s %8.4fx\n' "$1" "$(echo "$2 / $3" | bc -l)"; }

printf '%-34s %9s %9s %10s\n' case seconds rss_MiB image_bytes
read -r ms mr < <(measure mksquashfs "$out/src" "$out/m.sqfs" -comp zstd -Xcompression-level 3 -noappend -no-progress -quiet)
row "mksquashfs DIR" "$ms" "$mr" "$out/m.sqfs"
read -r bs br < <(measure "$bale" pack -q "$out/src" "$out/b.sqfs")
row "bale pack DIR" "$bs" "$br" "$out/b.sqfs"
read -r ts tr < <(measure sh -c "tar2sqfs -q -f -c zstd -X level=3 '$out/t.sqfs' < '$out/big.tar'")
row "tar2sqfs < ARCHIVE" "$ts" "$tr" "$out/t.sqfs"
read -r as ar < <(measure "$bale" pack -q "$out/big.tar" "$out/a.sqfs")
row "bale pack ARCHIVE" "$as" "$ar" "$out/a.sqfs"

mount -t squashfs -o loop,ro "$out/b.sqfs" "$out/kernel"
"$bale" mount --backend fuse "$out/b.sqfs" "$out/fuse"
read -r ks kr < <(measure cp --sparse=always "$out/kernel/big" "$out/copy.kernel")
row "cp out of the kernel mount" "$ks" "$kr"
read -r fs fr < <(measure cp --sparse=always "$out/fuse/big" "$out/copy.fuse")
row "cp out of bale mount" "$fs" "$fr"
cmp "$out/copy.fuse" "$out/src/big"

ratio "pack DIR bale/mksquashfs" "$bs" "$ms"
ratio "pack ARCHIVE bale/tar2sqfs" "$as" "$ts"
ratio "cp bale mount/kernel" "$fs" "$ks"
