#!/usr/bin/env bash
# Lookup speed in a flat 50,000-entry directory: packs it with bale and with
# mksquashfs, loop-mounts both with the kernel and times stat() of every name
# in random order, cold (fresh mount, dropped caches) and warm.
# The directory index is what keeps these lookups fast. Run as root.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p bale
bale=$PWD/target/release/bale
work=$(mktemp -d /var/tmp/bale-bigdir.XXXXXX)
trap 'umount -q "$work"/mnt.* 2>/dev/null || true; rm -rf "$work"' EXIT
n=${1:-50000}
mkdir -p "$work/src/flat"
python3 -c "
import os, sys
d = sys.argv[1]
for i in range($n):
    open(os.path.join(d, f'file-{i:07d}-{\"y\" * (i % 30)}'), 'w').close()
" "$work/src/flat"
"$bale" pack -q "$work/src" "$work/bale.sqfs"
mksquashfs "$work/src" "$work/mksquashfs.sqfs" -comp zstd -Xcompression-level 3 -noappend -quiet -no-progress >/dev/null
ls "$work/src/flat" | shuf --random-source=<(yes) > "$work/names"

stat_all() {
    python3 - "$1" "$work/names" <<'PY'
import os, sys, time
d, names = sys.argv[1], open(sys.argv[2]).read().split("\n")[:-1]
t = time.perf_counter()
for n in names:
    os.stat(os.path.join(d, n))
print(f"{time.perf_counter() - t:.3f}")
PY
}

printf '%-12s %8s %8s\n' image cold_s warm_s
declare -A cold warm
for tool in mksquashfs bale; do
    mkdir -p "$work/mnt.$tool"
    mount -t squashfs -o loop,ro "$work/$tool.sqfs" "$work/mnt.$tool"
    sync; echo 3 > /proc/sys/vm/drop_caches
    cold[$tool]=$(stat_all "$work/mnt.$tool/flat")
    warm[$tool]=$(stat_all "$work/mnt.$tool/flat")
    umount "$work/mnt.$tool"
    printf '%-12s %8s %8s\n' "$tool" "${cold[$tool]}" "${warm[$tool]}"
done
printf '%-12s %7.2fx %7.2fx\n' "bale/mksq" "$(echo "${cold[bale]}/${cold[mksquashfs]}" | bc -l)" \
    "$(echo "${warm[bale]}/${warm[mksquashfs]}" | bc -l)"
