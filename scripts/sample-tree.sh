#!/usr/bin/env bash
# Writes a deterministic sample software tree to DIR: 40 packages of small
# Python-like modules, identical licence files (deduplicated in the image),
# symlinks, a sparse file and a few larger compressible files.
set -euo pipefail
dir=${1:?usage: sample-tree.sh DIR}
mkdir -p "$dir"
for p in $(seq 0 39); do
    pkg=$dir/pkg$p
    mkdir -p "$pkg/sub" "$pkg/data"
    for m in $(seq 0 49); do
        printf '"""Module %d of package %d."""\n\ndef f%d(x):\n    return x * %d\n' \
            "$m" "$p" "$m" "$((m * p + 1))" > "$pkg/module$m.py"
    done
    for m in $(seq 0 19); do
        printf 'VALUE = %d\n' "$((p * 100 + m))" > "$pkg/sub/const$m.py"
    done
    printf 'Licensed under the sample licence.\nNo warranty.\n' > "$pkg/LICENSE"
    : > "$pkg/__init__.py"
    ln -sf module0.py "$pkg/main.py"
    seq 1 $((20000 + p * 500)) > "$pkg/data/table.txt"
done
truncate -s 8M "$dir/pkg0/data/sparse.img"
chmod 0755 "$dir"/pkg*/module1.py
