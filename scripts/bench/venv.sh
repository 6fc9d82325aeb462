#!/usr/bin/env bash
# Python import time from a venv on GlusterFS: the venv read directly from
# the parallel file system, versus its squashfs image (also on GlusterFS)
# mounted over the same path for the one command by `bale run` (kernel and
# FUSE backends; the time includes mounting). The venv is a plain
# `python3 -m venv` (pip and setuptools, ~1,000 files); the import loads
# pip's install command and pkg_resources (hundreds of modules, plus a scan
# of the installed distributions). Cold: the gluster client is remounted and
# the page cache dropped before every run; warm: the same command again.
# Prints the median of RUNS runs of each.
# Usage: scripts/bench/venv.sh [RUNS]   (as root; DELAY_US=500 adds latency
# to every brick operation; leaves GlusterFS up: scripts/bench/gluster.sh down)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
cargo build --release --quiet -p bale
bale=$PWD/target/release/bale
mnt=$(scripts/bench/gluster.sh up "${DELAY_US:-0}")
work=$mnt/venv-bench
venv=$work/venv
image=$work/venv.sqfs
if [ ! -f "$image" ]; then
    rm -rf "$work"
    mkdir -p "$work"
    /usr/bin/python3 -m venv "$venv"
    "$bale" pack -q "$venv" "$image"
fi
# bale run finds this build's helper through a configuration of its own.
local_dir=/var/tmp/bale-bench
mkdir -p "$local_dir"
export BALE_CONFIG=$local_dir/venv-config.toml
printf 'helper = "%s"\n' "$PWD/target/release/bale-helper" > "$BALE_CONFIG"

py=$venv/bin/python
code='import pip._internal.commands.install, pkg_resources'
cold() { scripts/bench/gluster.sh remount; sync; echo 3 > /proc/sys/vm/drop_caches; }
seconds() { local t0=$EPOCHREALTIME; "$@" >/dev/null; echo "$EPOCHREALTIME - $t0" | bc -l; }
median() { sort -n | awk '{v[NR]=$1} END {printf "%.3f", v[int((NR+1)/2)]}'; }

# measure LABEL COMMAND...: cold and warm medians.
measure() {
    local label=$1 c w
    shift
    c=$(for _ in $(seq "$runs"); do cold; seconds "$@"; done | median)
    w=$(for _ in $(seq "$runs"); do seconds "$@"; done | median)
    printf '| %s | %s s | %s s |\n' "$label" "$c" "$w"
}

echo "venv: $(find "$venv" | wc -l) files, image $(du -h "$image" | cut -f1); delay ${DELAY_US:-0} µs; median of $runs"
echo "| venv | cold | warm |"
echo "|---|---:|---:|"
measure "directly on GlusterFS" "$py" -c "$code"
measure "bale run, kernel backend" "$bale" run --backend kernel "$image:$venv" -- "$py" -c "$code"
measure "bale run, FUSE backend" "$bale" run --backend fuse "$image:$venv" -- "$py" -c "$code"
