#!/usr/bin/env bash
# Installs uv, pinned, from PyPI into a venv at PREFIX (default
# /opt/bale-test/uv) for the tests in crates/cli/tests/venv.rs, readable by
# every user. A venv because Debian 12's own pip refuses to install into the
# system Python (externally managed). Idempotent: returns at once when that
# version is there. Then: PREFIX/bin/uv
set -euo pipefail
prefix=${1:-/opt/bale-test/uv}
version=0.13.9
installed=$("$prefix/bin/uv" --version 2>/dev/null | awk '{print $2}') || true # "uv 0.13.9 (triple)"
[ "$installed" = "$version" ] && exit 0

rm -rf "$prefix"
mkdir -p "$(dirname "$prefix")"
# The system Python: root's PATH may lead to a per-user pyenv.
/usr/bin/python3 -m venv "$prefix"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$prefix/bin/pip" install --quiet "uv==$version"
chmod -R go+rX "$prefix"
"$prefix/bin/uv" --version
