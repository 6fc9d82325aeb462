#!/usr/bin/env bash
# Benchmark for `bale du` / `bale rm` (crates/gentle):
#  1. measured vs requested stat rate of `bale du -S RATE` on a tree of N
#     files, over the whole run and over a 10-second window taken with SIGUSR1;
#  2. measured vs requested unlink rate of `bale rm -r -U RATE`;
#  3. unthrottled `bale du -s` vs GNU `du -s` on the Linux source tree, with
#     cold caches (drop_caches before each run, needs root) and warm.
# Prints a Markdown report on stdout; progress goes to stderr.
#
# Usage: scripts/bench/gentle.sh
# Environment: FILES (100000), LIMITS ("500 2000 5000"), RUN_SECONDS (25),
#   UNLINK_LIMIT (2000), REPEAT (5), BENCH_DIR (/var/tmp/bale-bench),
#   TARGET (where to measure the tree; default $BENCH_DIR/work),
#   SECTIONS (which parts to run; default "rates rm linux pfs"),
#   PFS_DIR (optional: a directory on a parallel/network file system, e.g. a
#   GlusterFS mount; adds du and rm timings there), PFS_FILES (20000),
#   PFS_REMOUNT (1: remount a GlusterFS client for cold runs, since
#   drop_caches does not clear its own caches).
set -euo pipefail

FILES=${FILES:-100000}
LIMITS=${LIMITS:-"500 2000 5000"}
RUN_SECONDS=${RUN_SECONDS:-25}
UNLINK_LIMIT=${UNLINK_LIMIT:-2000}
REPEAT=${REPEAT:-5}
BENCH_DIR=${BENCH_DIR:-/var/tmp/bale-bench}
TARGET=${TARGET:-$BENCH_DIR/work}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BALE=$ROOT/target/release/bale

log() { echo "gentle.sh: $*" >&2; }
SECTIONS=${SECTIONS:-"rates rm linux pfs"}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }

log "building release"
(cd "$ROOT" && cargo build --release -p bale >&2)
mkdir -p "$BENCH_DIR" "$TARGET"

# A tree of $1 empty files in directories of 1000 under $2.
make_tree() {
    python3 - "$1" "$2" <<'PY'
import os, sys
n, root = int(sys.argv[1]), sys.argv[2]
os.makedirs(root, exist_ok=True)
for i in range(n):
    d = os.path.join(root, f"d{i // 1000:04d}")
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    open(os.path.join(d, f"f{i:07d}"), "w").close()
PY
}

drop_caches() {
    sync
    if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; else
        log "cannot drop caches (not root): cold numbers are warm"; fi
}

# Run "$@" (a bale command with -R) for RUN_SECONDS, sending SIGUSR1 at 5 s and
# 15 s, then SIGINT. Prints: overall_rate window_rate.
measure_rate() {
    local op=$1; shift
    local err; err=$(mktemp)
    "$@" > /dev/null 2> "$err" &
    local pid=$!
    sleep 5; kill -USR1 $pid
    sleep 10; kill -USR1 $pid
    sleep $((RUN_SECONDS - 15)); kill -INT $pid 2>/dev/null || true
    wait $pid || true
    python3 - "$op" "$err" <<'PY'
import re, sys
op, path = sys.argv[1], sys.argv[2]
pts = [(int(n), float(t)) for n, t in re.findall(rf"\] {op}: (\d+) calls over ([\d.]+) seconds", open(path).read())]
(n1, t1), (n2, t2), (n, t) = pts[0], pts[1], pts[-1]
print(f"{n / t:.1f} {(n2 - n1) / (t2 - t1):.1f}")
PY
    rm -f "$err"
}

# Wall time of one run of "$@" in seconds.
seconds() { local s e; s=$(date +%s.%N); "$@" > /dev/null; e=$(date +%s.%N); python3 -c "print(f'{$e - $s:.3f}')"; }

# REPEAT rounds; in each, every command runs once (cold: after dropping
# caches; warm: after one unmeasured run), interleaved so that load from other
# processes hits all of them alike. Prints one line per command:
# "median min max".
compare_times() {
    local mode=$1; shift
    local -a cmds=("$@") times=()
    local i
    for i in "${!cmds[@]}"; do times[i]=""; done
    for _ in $(seq "$REPEAT"); do
        for i in "${!cmds[@]}"; do
            # shellcheck disable=SC2086
            if [ "$mode" = cold ]; then drop_caches; else ${cmds[i]} > /dev/null; fi
            # shellcheck disable=SC2086
            times[i]="${times[i]} $(seconds ${cmds[i]})"
        done
    done
    for i in "${!cmds[@]}"; do
        python3 -c "import statistics as s; t = [float(x) for x in '${times[i]}'.split()]; print(f'{s.median(t):.3f} {min(t):.3f} {max(t):.3f}')"
    done
}

echo "## bale du / bale rm"
echo
echo "Machine: $(nproc) cores, $(uname -r), file system of the tree: $(stat -f -c %T "$TARGET"), $(date -u +%Y-%m-%d)."
echo

if want rates; then
TREE=$TARGET/tree-$FILES
if [ ! -d "$TREE" ]; then log "creating $FILES files in $TREE"; make_tree "$FILES" "$TREE"; fi

echo "### Rate limiting: bale du -S RATE on $FILES files"
echo
echo "Each run lasts ${RUN_SECONDS} s (then SIGINT); the 10 s window is read from SIGUSR1 reports at 5 s and 15 s."
echo
echo "| requested stat/s | measured, whole run | deviation | measured, 10 s window | deviation |"
echo "|---:|---:|---:|---:|---:|"
for limit in $LIMITS; do
    log "du -S $limit"
    read -r whole window < <(measure_rate stat "$BALE" du -R -S "$limit" "$TREE")
    python3 -c "
l, a, b = $limit, $whole, $window
print(f'| {l} | {a:.1f} | {100*(a-l)/l:+.2f}% | {b:.1f} | {100*(b-l)/l:+.2f}% |')"
done
echo

fi

if want rm; then
echo "### Rate limiting: bale rm -r -U $UNLINK_LIMIT"
echo
RMTREE=$TARGET/rm-tree
rm -rf "$RMTREE"
make_tree $((UNLINK_LIMIT * RUN_SECONDS * 2)) "$RMTREE"
log "rm -U $UNLINK_LIMIT"
read -r whole window < <(measure_rate unlink "$BALE" rm -r -R -U "$UNLINK_LIMIT" "$RMTREE")
rm -rf "$RMTREE"
echo "| requested unlink/s | measured, whole run | deviation | measured, 10 s window | deviation |"
echo "|---:|---:|---:|---:|---:|"
python3 -c "
l, a, b = $UNLINK_LIMIT, $whole, $window
print(f'| {l} | {a:.1f} | {100*(a-l)/l:+.2f}% | {b:.1f} | {100*(b-l)/l:+.2f}% |')"
echo

fi

if want linux; then
# The Linux source tree from Debian's linux-source package.
SRC_CACHE=$BENCH_DIR/linux-source
LINUX=$TARGET/linux
if [ ! -d "$LINUX" ]; then
    mkdir -p "$SRC_CACHE"
    if ! ls "$SRC_CACHE"/linux-source-6.1_*.deb >/dev/null 2>&1; then
        log "downloading linux-source-6.1"
        (cd "$SRC_CACHE" && apt-get download linux-source-6.1 >&2)
    fi
    rm -rf "$SRC_CACHE/x"
    dpkg-deb -x "$SRC_CACHE"/linux-source-6.1_*.deb "$SRC_CACHE/x"
    mkdir -p "$LINUX.tmp"
    tar -xJf "$SRC_CACHE"/x/usr/src/linux-source-6.1.tar.xz -C "$LINUX.tmp" --strip-components=1
    rm -rf "$SRC_CACHE/x"
    mv "$LINUX.tmp" "$LINUX"
fi
ENTRIES=$(find "$LINUX" | wc -l)

echo "### Unthrottled: bale du -s vs du -s on the Linux 6.1 source ($ENTRIES entries)"
echo
echo "$REPEAT rounds, the three commands interleaved in each; median (min–max) wall time."
echo "Cold = \`sync; echo 3 > /proc/sys/vm/drop_caches\` before each run. Load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| caches | du -s | bale du -s (8 workers) | speed-up | bale du -s -j 16 | speed-up |"
echo "|---|---:|---:|---:|---:|---:|"
for mode in cold warm; do
    log "linux tree, $mode"
    mapfile -t r < <(compare_times $mode "du -s $LINUX" "$BALE du -s $LINUX" "$BALE du -s -j 16 $LINUX")
    python3 - "$mode" "${r[@]}" <<'PY'
import sys
mode, rows = sys.argv[1], [list(map(float, a.split())) for a in sys.argv[2:]]
(d, dlo, dhi), (b, blo, bhi), (c, clo, chi) = rows
print(f"| {mode} | {d:.3f} s ({dlo:.3f}–{dhi:.3f}) | {b:.3f} s ({blo:.3f}–{bhi:.3f}) | {d/b:.2f}x "
      f"| {c:.3f} s ({clo:.3f}–{chi:.3f}) | {d/c:.2f}x |")
PY
done
echo
same_du=$(du -s "$LINUX" | cut -f1); same_bale=$("$BALE" du -s "$LINUX" | cut -f1)
echo "Totals agree: du -s says $same_du KiB, bale du -s says $same_bale KiB."

echo
echo "### Per-directory lines: bale du -d 2 and -a vs du on the same tree"
echo
echo "As above; \`-d 2\` prints the $(find "$LINUX" -mindepth 1 -maxdepth 2 -type d | wc -l) directories down to depth 2, \`-a\` one line per entry (output to /dev/null)."
echo
echo "| caches | du -d 2 | bale du -d 2 | speed-up | du -a | bale du -a | speed-up |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for mode in cold warm; do
    log "linux tree, lines, $mode"
    mapfile -t r < <(compare_times $mode "du -d 2 $LINUX" "$BALE du -d 2 $LINUX" "du -a $LINUX" "$BALE du -a $LINUX")
    python3 - "$mode" "${r[@]}" <<'PY'
import sys
mode, rows = sys.argv[1], [list(map(float, a.split())) for a in sys.argv[2:]]
cell = lambda r: f"{r[0]:.3f} s ({r[1]:.3f}–{r[2]:.3f})"
(d2, b2, da, ba) = rows
print(f"| {mode} | {cell(d2)} | {cell(b2)} | {d2[0]/b2[0]:.2f}x | {cell(da)} | {cell(ba)} | {da[0]/ba[0]:.2f}x |")
PY
done

fi

want pfs && [ -n "${PFS_DIR:-}" ] || exit 0

PFS_FILES=${PFS_FILES:-20000}
PFS_REMOUNT=${PFS_REMOUNT:-1}
PFS_MNT=$(findmnt -n -o TARGET -T "$PFS_DIR")
PFS_TYPE=$(findmnt -n -o FSTYPE -T "$PFS_DIR")
PFS_SRC=$(findmnt -n -o SOURCE -T "$PFS_DIR")

# Drop the kernel's caches and, for GlusterFS, the client's own (remount).
pfs_cold() {
    drop_caches
    if [ "$PFS_REMOUNT" = 1 ] && [ "$PFS_TYPE" = fuse.glusterfs ]; then
        umount "$PFS_MNT"; mount -t glusterfs "$PFS_SRC" "$PFS_MNT"
        for _ in $(seq 100); do stat "$PFS_DIR" >/dev/null 2>&1 && break; sleep 0.1; done
    fi
}

PFS_TREE=$PFS_DIR/tree-$PFS_FILES
if [ ! -d "$PFS_TREE" ]; then log "creating $PFS_FILES files on $PFS_TYPE"; make_tree "$PFS_FILES" "$PFS_TREE"; fi
echo
echo "### On $PFS_TYPE ($PFS_FILES files in directories of 1000)"
echo
echo "Cold = drop_caches$( [ "$PFS_REMOUNT" = 1 ] && [ "$PFS_TYPE" = fuse.glusterfs ] && echo ' and the client remounted'); one run each."
echo
echo "| command | cold | warm |"
echo "|---|---:|---:|"
for cmd in "du -s" "$BALE du -s" "$BALE du -s -j 16" "$BALE du -S 2000 -R"; do
    log "pfs: $cmd"
    pfs_cold; cold=$(seconds $cmd "$PFS_TREE")
    warm=$(seconds $cmd "$PFS_TREE")
    echo "| \`${cmd/#$BALE/bale}\` | $cold s | $warm s |"
done
echo
echo "| removal of the $PFS_FILES-file tree | time |"
echo "|---|---:|"
pfs_cold; t_rm=$(seconds rm -rf "$PFS_TREE")
make_tree "$PFS_FILES" "$PFS_TREE"
pfs_cold; t_bale=$(seconds "$BALE" rm -r "$PFS_TREE")
echo "| \`rm -rf\` | $t_rm s |"
echo "| \`bale rm -r\` (8 workers, no limit) | $t_bale s |"
