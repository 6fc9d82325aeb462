#!/usr/bin/env bash
# Unpacks Debian's environment-modules (Environment Modules, Tcl) into a
# private PREFIX (default /opt/bale-test/envmod) for the tests in
# crates/cli/tests/modules.rs. Its package conflicts with `lmod`, which the
# tests need too, so it is not installed with dpkg: its files are extracted
# and their absolute paths pointed into PREFIX. Needs tclsh8.6. Idempotent.
# Then: source PREFIX/usr/share/modules/init/bash
set -euo pipefail
prefix=${1:-/opt/bale-test/envmod}
candidate() { apt-cache policy environment-modules | awk '/Candidate:/ && $2 != "(none)" {print $2}'; }
version=$(candidate)
[ -n "$version" ] || { apt-get update -qq && version=$(candidate); }
[ -n "$version" ] || {
    echo "install-envmod.sh: apt knows no environment-modules package (apt-get update?)" >&2
    exit 1
}
[ "$(cat "$prefix/.version" 2>/dev/null)" = "$version" ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
chown _apt "$work" 2>/dev/null || true # apt downloads as its own user
(cd "$work" && apt-get download -qq environment-modules)
dpkg-deb -x "$work"/environment-modules_*.deb "$work/root"
lib=$(cd "$work/root" && dirname usr/lib/*-linux-gnu/modulecmd.tcl) # multiarch directory
for file in "$lib/modulecmd.tcl" usr/share/modules/init/bash; do
    [ -f "$work/root/$file" ] || { echo "install-envmod.sh: the package has no $file" >&2; exit 1; }
    sed -i -e "s#/$lib#$prefix&#g" \
        -e "s#/usr/share/modules#$prefix&#g" \
        -e "s#/etc/environment-modules#$prefix&#g" "$work/root/$file"
done
echo "$version" >"$work/root/.version"
chmod -R go+rX "$work/root"
rm -rf "$prefix"
mkdir -p "$(dirname "$prefix")"
mv "$work/root" "$prefix"
