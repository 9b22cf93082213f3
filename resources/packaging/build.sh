#!/usr/bin/env bash
# Build the desktop bundle and pack it as a Debian package:
#   dist/registry-app/                         the PyInstaller one-folder bundle (resources/packaging/registry-app.spec)
#   dist/registry-app_VERSION_ARCH.deb         that bundle in /opt/registry-app, /usr/bin/registry-app, menu entry,
#                                              icons and AppStream metadata
# Needs PyInstaller and the app's dependencies in the Python that runs it (python3, or $PYTHON), and dpkg-deb.
# Usage: bash resources/packaging/build.sh [--bundle-only]      (DEB_COMPRESS=gzip for a faster, larger .deb)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
fail() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

command -v dpkg-deb >/dev/null || fail "dpkg-deb not found (Debian's dpkg package)"
"$PYTHON" -c "import PyInstaller" 2>/dev/null || fail "PyInstaller is not installed for $PYTHON (pip install pyinstaller)"

VERSION=$("$PYTHON" -c 'import ast, sys
for node in ast.parse(open("registry_app/__init__.py").read()).body:
    if isinstance(node, ast.Assign) and node.targets[0].id == "__version__":
        print(node.value.value)')
[ -n "$VERSION" ] || fail "no __version__ in registry_app/__init__.py"
ARCH=$(dpkg --print-architecture)

echo "== PyInstaller bundle of registry-app $VERSION"
start=$SECONDS
# PYTHONPATH is left out: the spec analyses a staged copy of this checkout, nothing else.
env -u PYTHONPATH "$PYTHON" -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
  resources/packaging/registry-app.spec
BUNDLE=dist/registry-app
[ -x "$BUNDLE/registry-app" ] || fail "PyInstaller made no $BUNDLE/registry-app"
"$BUNDLE/registry-app" --version >/dev/null || fail "the bundled program does not start: $BUNDLE/registry-app --version"
# Every module of the package must be in the bundle's archive: main_window.py imports some pages by name
# and would show "This page is not part of this build." for one PyInstaller did not collect.
"$PYTHON" - "$BUNDLE/registry-app" <<'PY' || fail "modules of registry_app missing from the bundle"
import pathlib, subprocess, sys
listing = subprocess.run([sys.executable, "-m", "PyInstaller.utils.cliutils.archive_viewer", "-r", "-b", sys.argv[1]],
                         capture_output=True, text=True, check=True).stdout.split()
source = {".".join(path.with_suffix("").parts).removesuffix(".__init__") for path in pathlib.Path("registry_app").rglob("*.py")}
missing = sorted(source - set(listing))
if missing:
    sys.exit("not in the bundle: " + ", ".join(missing))
print(f"   all {len(source)} modules of registry_app are in the bundle")
PY
dangling=$(find "$BUNDLE" -xtype l)
[ -z "$dangling" ] || fail "links to files the spec pruned: $dangling"
echo "   $BUNDLE: $(du -sh "$BUNDLE" | cut -f1) in $((SECONDS - start)) s"
[ "${1:-}" = "--bundle-only" ] && exit 0

echo "== Debian package"
PKG=build/deb/registry-app
rm -rf "$PKG" && mkdir -p "$PKG/DEBIAN" "$PKG/opt" "$PKG/usr/bin" "$PKG/usr/share/applications" \
  "$PKG/usr/share/metainfo" "$PKG/usr/share/doc/registry-app"
cp -a "$BUNDLE" "$PKG/opt/registry-app"
# A symlink: the bundle's program finds its _internal folder (and the demo re-runs it as sys.executable)
# through the link, as tested by ci_bundle.sh.
ln -s /opt/registry-app/registry-app "$PKG/usr/bin/registry-app"
install -m 644 resources/linux/registry-app.desktop "$PKG/usr/share/applications/registry-app.desktop"
install -m 644 resources/linux/io.github.registry_app.metainfo.xml "$PKG/usr/share/metainfo/"
for png in resources/icons/registry-app-*.png; do
  size=${png##*-}; size=${size%.png}
  install -D -m 644 "$png" "$PKG/usr/share/icons/hicolor/${size}x${size}/apps/registry-app.png"
done
install -D -m 644 resources/icons/registry-app.svg "$PKG/usr/share/icons/hicolor/scalable/apps/registry-app.svg"
cat > "$PKG/usr/share/doc/registry-app/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: registry-app

Files: *
License: MIT

Files: opt/registry-app/_internal/*
Comment: The bundled Python runtime (PSF licence), Qt 6 and PySide6 (LGPL-3.0), SQLAlchemy, Alembic, psycopg
 (LGPL-3.0), biip, openpyxl, pycountry, lxml, platformdirs, each under its own licence; the DejaVu and Noto Sans
 CJK fonts (see opt/registry-app/_internal/registry_app/resources/fonts/*LICENSE*).
EOF
# dpkg-deb wants owner-writable, world-readable files; PyInstaller copies the modes of the installed wheels.
find "$PKG" -type d -exec chmod 755 {} + && find "$PKG/opt" -type f -exec chmod u+rw,go+r,go-w {} +

# The Qt xcb platform's run-time libraries (README, "Set up on a fresh machine"), Wayland's client libraries
# (for the bundled wayland platform plugin), a font for the widgets, and the C library the bundled Python was
# built against. PyInstaller copies most other libraries into the bundle; libGL, libEGL and the C library
# must be the system's own.
GLIBC=$(getconf GNU_LIBC_VERSION | awk '{print $2}')  # e.g. "glibc 2.36"
DEPENDS="libc6 (>= $GLIBC), libegl1, libgl1, libxkbcommon0, libfontconfig1, fonts-dejavu-core, libdbus-1-3, \
libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-image0, libxcb-randr0, libxcb-render-util0, \
libxcb-shape0, libxcb-xfixes0, libxcb-xkb1, libxkbcommon-x11-0, libx11-xcb1, \
libwayland-client0, libwayland-cursor0, libwayland-egl1"
cat > "$PKG/DEBIAN/control" <<EOF
Package: registry-app
Version: $VERSION
Architecture: $ARCH
Maintainer: ${DEB_MAINTAINER:-registry-app developers <registry-app@localhost>}
Installed-Size: $(du -sk --exclude=DEBIAN "$PKG" | cut -f1)
Depends: $DEPENDS
Section: science
Priority: optional
Description: desktop registry of exosome and polynucleotide product lots
 Records the lots an aesthetic clinic receives, administrations to patients,
 recalls and adverse events, and flags what is undocumented or non-compliant.
 One program: with no command the desktop application, otherwise the command
 line (registry-app --help). Installed in /opt/registry-app with its own Python
 and Qt.
EOF
# Refresh the icon cache and the menu where the tools exist (they may not, in a container).
cat > "$PKG/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t /usr/share/icons/hicolor || true
  command -v update-desktop-database >/dev/null && update-desktop-database -q /usr/share/applications || true
fi
EOF
cp "$PKG/DEBIAN/postinst" "$PKG/DEBIAN/postrm"
sed -i 's/= configure ]/= remove ] || [ "$1" = purge ]/' "$PKG/DEBIAN/postrm"
chmod 755 "$PKG/DEBIAN/postinst" "$PKG/DEBIAN/postrm"

DEB="dist/registry-app_${VERSION}_${ARCH}.deb"
rm -f dist/registry-app_*.deb
# xz (the default) makes the smallest package (64 MB, about a minute on 2 cores); DEB_COMPRESS=gzip takes ~10 s
# for 87 MB, which CI uses (ci_bundle.sh).
dpkg-deb --root-owner-group "-Z${DEB_COMPRESS:-xz}" -z6 --build "$PKG" "$DEB" >/dev/null
echo "   $DEB: $(du -h "$DEB" | cut -f1), installs $(( $(du -sk --exclude=DEBIAN "$PKG" | cut -f1) / 1024 )) MiB;" \
  "$((SECONDS - start)) s in all"
