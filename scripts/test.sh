#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian 12 machine and
# runs all tests. Run as root: the tests do real kernel loop mounts, FUSE
# mounts, chown/mknod, and switch to unprivileged users.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: run as root (the tests mount images and change owners)" >&2
    exit 1
fi

packages=(squashfs-tools squashfuse fuse3 e2fsprogs attr acl util-linux sudo gcc make)
# Manual pages rendered by groff (crates/cli/tests/generate.rs).
packages+=(groff-base)
# Archives written by libarchive's bsdtar (crates/cli/tests/pack_archive.rs).
packages+=(libarchive-tools)
# The venv workflow (crates/cli/tests/venv.rs).
packages+=(python3 python3-venv)
# Environment modules (crates/cli/tests/modules.rs): Lmod here, Environment
# Modules unpacked below (the two packages conflict); tclsh8.6 runs the latter.
packages+=(lmod tcl8.6)
# SLURM tests (crates/cli/tests/slurm.rs): slurmctld, slurmd, munged and the client commands.
packages+=(slurm-wlm munge)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

scripts/install-envmod.sh /opt/bale-test/envmod
# uv for the venv workflow (crates/cli/tests/venv.rs), from PyPI.
scripts/install-uv.sh /opt/bale-test/uv

if ! command -v cargo >/dev/null; then
    [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null || { echo "scripts/test.sh: cargo not found (install Rust with rustup)" >&2; exit 1; }

# Unprivileged users need /dev/fuse (0600 on machines without udev).
[ -e /dev/fuse ] && chmod 0666 /dev/fuse
# Users for the FUSE tests: bale-test mounts, bale-other is someone else.
for user in bale-test bale-other; do
    id -u "$user" >/dev/null 2>&1 || useradd -m "$user"
done

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --no-fail-fast
