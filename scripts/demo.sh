#!/usr/bin/env bash
# Demo of the main job on built-in sample data: generates a small software
# tree (thousands of small files, duplicates, symlinks, a few large files),
# packs it into one squashfs image, inspects and verifies the image, packs
# a tar.gz of it the same way, then mounts the image with the FUSE driver,
# reads from the mount and unmounts.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"; }

cargo build --release --quiet -p bale
bale=$PWD/target/release/bale
work=$(mktemp -d /tmp/bale-demo.XXXXXX)
mnt=$work/mnt
cleanup() {
    if mountpoint -q "$mnt" 2>/dev/null; then "$bale" umount --lazy "$mnt"; fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== generating sample tree in $work/stack"
scripts/sample-tree.sh "$work/stack"

echo "== bale pack"
"$bale" pack "$work/stack" "$work/stack.sqfs"

echo "== bale info"
"$bale" info "$work/stack.sqfs"

echo "== bale ls -l (first entries)"
"$bale" ls -l "$work/stack.sqfs" /pkg0 | head -n 8

echo "== bale cat /pkg0/module0.py"
"$bale" cat "$work/stack.sqfs" /pkg0/module0.py | head -n 3

echo "== bale verify --against the source"
"$bale" verify "$work/stack.sqfs" --against "$work/stack"

echo "== bale pack from a tar.gz of the same tree, without extracting it"
tar -czf "$work/stack.tar.gz" -C "$work/stack" .
"$bale" pack "$work/stack.tar.gz" "$work/from-tar.sqfs"
"$bale" verify "$work/from-tar.sqfs" --against "$work/stack"

if [ "$(id -u)" -ne 0 ] && { [ ! -w /dev/fuse ] || ! command -v fusermount3 >/dev/null; }; then
    echo "== skipping the mount step: an ordinary user needs fuse3 installed and /dev/fuse"
    echo "   accessible (as root: apt-get install fuse3; chmod 0666 /dev/fuse), or run as root"
    echo "demo finished"
    exit 0
fi
echo "== bale mount (FUSE, no root needed) and reading from the mount"
mkdir "$mnt"
"$bale" mount "$work/stack.sqfs" "$mnt"
ls -l "$mnt/pkg0" | head -n 5
md5sum "$mnt/pkg0/module0.py" "$work/stack/pkg0/module0.py"
cmp "$mnt/pkg0/module0.py" "$work/stack/pkg0/module0.py"
echo "files in the mount: $(find "$mnt" -type f | wc -l)"

echo "== bale umount"
"$bale" umount "$mnt"
echo "demo finished"
