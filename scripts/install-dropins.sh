#!/bin/sh
# Installs the original image framework's tool names as symlinks to bale,
# for sites whose scripts call them (see docs/admin.md, "Drop-in names").
#   scripts/install-dropins.sh DIR [BALE]     (BALE: default /usr/bin/bale)
set -eu
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 DIR [BALE]" >&2
    exit 2
fi
dir=$1
bale=${2:-/usr/bin/bale}
mkdir -p "$dir"
for name in mount_image umount_image umount_all_images list_images \
    cleanup_images create_user_image create_software_image; do
    ln -sfn "$bale" "$dir/$name"
done
