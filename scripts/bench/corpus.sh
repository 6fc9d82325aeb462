#!/usr/bin/env bash
# Prepares the benchmark corpora under $BENCH_DIR (default /var/tmp/bale-bench)
# and prints their paths: the Linux 6.1 source tree (≈ 80k files, from
# Debian's linux-source-6.1 package) and a generated tree of 200k files of
# 0–4 KiB. Both are cached between runs.
set -euo pipefail
bench=${BENCH_DIR:-/var/tmp/bale-bench}
mkdir -p "$bench"
cd "$bench"

if [ ! -d linux/linux-source-6.1 ]; then
    if ! ls linux-source-6.1_*.deb >/dev/null 2>&1; then
        apt-get download linux-source-6.1 >&2
    fi
    rm -rf linux.tmp && mkdir linux.tmp
    dpkg-deb --fsys-tarfile linux-source-6.1_*.deb | tar -x -C linux.tmp ./usr/src/
    tar -xaf linux.tmp/usr/src/linux-source-6.1.tar.xz -C linux.tmp
    mkdir -p linux && mv linux.tmp/linux-source-6.1 linux/ && rm -rf linux.tmp
fi

if [ ! -d small/tree ]; then
    rm -rf small.tmp && mkdir -p small.tmp
    python3 - small.tmp <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(200_000)
words = [b"alpha", b"beta", b"gamma", b"delta", b"import", b"return", b"self", b"data", b"\n", b" "]
for d in range(400):
    sub = os.path.join(root, "tree", f"d{d // 20:02d}", f"s{d:03d}")
    os.makedirs(sub)
    for f in range(500):
        size = rng.randint(0, 4096)
        if rng.random() < 0.5:
            body = bytearray()
            while len(body) < size:
                body += rng.choice(words)
            body = bytes(body[:size])
        else:
            body = rng.randbytes(size)
        with open(os.path.join(sub, f"f{f:03d}.dat"), "wb") as fh:
            fh.write(body)
PY
    mkdir -p small && mv small.tmp/tree small/ && rmdir small.tmp
fi
echo "$bench/linux/linux-source-6.1"
echo "$bench/small/tree"
