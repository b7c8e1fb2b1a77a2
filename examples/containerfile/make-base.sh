#!/bin/sh
# Makes the base image of this example, localhost/kiln-busybox:latest: a static busybox
# with its applets linked under /bin, committed into the buildah storage that
# `kiln build` uses (DIR/.kiln/buildah). Usage: ./make-base.sh [DIR]
# Needs buildah and a statically linked busybox (Debian: busybox-static; BUSYBOX=path).
set -eu
DIR=$(cd "${1:-$(dirname "$0")}" && pwd)
BUSYBOX=${BUSYBOX:-/bin/busybox}
if ldd "$BUSYBOX" >/dev/null 2>&1; then
  echo "$BUSYBOX is dynamically linked; the image needs a static one (busybox-static, or BUSYBOX=path)" >&2
  exit 1
fi
B="buildah --root $DIR/.kiln/buildah/storage --runroot $DIR/.kiln/buildah/run --storage-driver vfs"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
for applet in $("$BUSYBOX" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
c=$($B from scratch)
$B copy "$c" "$root/" / >/dev/null
$B config --cmd /bin/sh --env PATH=/bin "$c"
$B commit --quiet "$c" localhost/kiln-busybox:latest >/dev/null
$B rm "$c" >/dev/null
echo "localhost/kiln-busybox:latest is in $DIR/.kiln/buildah/storage"
