#!/bin/sh
# Builds the Debian packages (debian/) out of tree: copies the files git
# knows of (tracked, with their work-tree contents, and untracked ones that
# are not ignored) into a temporary directory, runs
# `dpkg-buildpackage -us -uc -b` there, and moves the .debs, .buildinfo and
# .changes into OUT_DIR. The work tree gets nothing but OUT_DIR.
#
#   sh mk/package.sh OUT_DIR          (from the repository root; make package)
set -eu
[ $# -eq 1 ] || { echo "usage: sh mk/package.sh OUT_DIR" >&2; exit 2; }
out=$1
cd "$(dirname "$0")/.."
for t in dpkg-buildpackage dh fakeroot; do
    command -v "$t" >/dev/null || { echo "package: $t missing (make deps)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
src=$tmp/openpdm
mkdir "$src"
# Files deleted in the work tree but still tracked are left out.
git ls-files -z --cached --others --exclude-standard |
    tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$src"
# A make check or make package calling us: its jobserver is not ours.
unset MAKEFLAGS MFLAGS MAKELEVEL
jobs=$(nproc 2>/dev/null || echo 1)
(cd "$src" && DEB_BUILD_OPTIONS="parallel=$jobs ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -us -uc -b)
mkdir -p "$out"
rm -f "$out"/*.deb "$out"/*.buildinfo "$out"/*.changes
mv "$tmp"/*.deb "$tmp"/*.buildinfo "$tmp"/*.changes "$out"/
ls "$out"/*.deb
