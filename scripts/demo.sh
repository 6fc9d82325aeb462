#!/usr/bin/env bash
# Demo of the main job on built-in sample data: generates a small software
# tree (thousands of small files, duplicates, symlinks, a few large files),
# packs it into one squashfs image, inspects and verifies the image.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"; }

cargo build --release --quiet -p bale
bale=$PWD/target/release/bale
work=$(mktemp -d /tmp/bale-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT

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
echo "demo finished"
