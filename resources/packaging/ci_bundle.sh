#!/usr/bin/env bash
# CI for the desktop bundle (issue 16): build the PyInstaller bundle and the .deb, install the .deb with apt
# (so its Depends resolve), then use the INSTALLED program: its CLI makes a demo registry and runs a few
# commands, its window is signed in to on a private Xvfb and screenshotted into $REGISTRY_SCREENSHOT_DIR, and
# bench/bench_bundle.py prints the installed size and the start time. Exits non-zero, naming the step, on any
# failure. Run from .ci/run after the test suite: bash resources/packaging/ci_bundle.sh
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1
SCREENSHOTS=${REGISTRY_SCREENSHOT_DIR:-$PWD/artifacts/screenshots}
# /usr/bin/registry-app by its path: the editable install's console script (pip install -e .) comes first on PATH.
INSTALLED=/usr/bin/registry-app
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
began=$SECONDS
current="start"
step() { current="$*"; printf '\n=== bundle: %s\n' "$*"; }
trap 'printf "\nci_bundle.sh: FAILED during \"%s\" (line %s, exit %s)\n" "$current" "$LINENO" "$?" >&2' ERR
fail() { printf 'ci_bundle.sh: FAILED: %s\n' "$*" >&2; exit 1; }

step "system packages beyond .ci/run's (xdotool, xwd, desktop-file and AppStream validators)"
missing=""
for tool in xdotool xwd desktop-file-validate appstreamcli; do command -v "$tool" >/dev/null || missing+=" $tool"; done
if [ -n "$missing" ]; then  # (nothing to fetch once .ci/run's package list has them)
  echo "installing for:$missing"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends xdotool x11-apps desktop-file-utils appstream >/dev/null
fi
python3 -c "import PyInstaller" 2>/dev/null || python3 -m pip install -q "pyinstaller>=6.10"

step "menu entry and AppStream metadata are valid"
desktop-file-validate resources/linux/registry-app.desktop
appstreamcli validate --no-net resources/linux/io.github.registry_app.metainfo.xml

step "build the bundle and the .deb (resources/packaging/build.sh)"
DEB_COMPRESS=gzip bash resources/packaging/build.sh  # gzip: 10 s instead of a minute of xz; 87 MB, not 64
debs=(dist/registry-app_*.deb)
[ "${#debs[@]}" = 1 ] && [ -f "${debs[0]}" ] || fail "expected one dist/registry-app_*.deb, found: ${debs[*]}"
built=$SECONDS

step "install ${debs[0]} with apt (its dependencies resolve from the archive)"
$SUDO apt-get install -y -qq --reinstall "./${debs[0]}" >/dev/null
[ "$(readlink -f "$INSTALLED")" = /opt/registry-app/registry-app ] || fail "$INSTALLED is not the installed bundle"
for file in /usr/share/applications/registry-app.desktop /usr/share/metainfo/io.github.registry_app.metainfo.xml \
  /usr/share/icons/hicolor/scalable/apps/registry-app.svg /usr/share/icons/hicolor/{16,24,32,48,64,128,256,512}x*/apps/registry-app.png; do
  [ -f "$file" ] || fail "the package did not install $file"
done
"$INSTALLED" --version

step "the installed program's command line"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db="sqlite:///$tmp/demo.sqlite3"
"$INSTALLED" --database "sqlite:///$tmp/empty.sqlite3" db upgrade
"$INSTALLED" --database "$db" demo --lots 200 | sed -n 1p
export REGISTRY_USER=inspector REGISTRY_PASSWORD=inspector-demo
"$INSTALLED" --database "$db" flags --format json > "$tmp/flags.json"
python3 -c 'import json, sys; flags = json.load(open(sys.argv[1])); assert flags, "no flags"
print(f"flags --format json: {len(flags)} flags")' "$tmp/flags.json"
"$INSTALLED" --database "$db" report compliance --from 2000-01-01 --to 2100-12-31 --out "$tmp/report.pdf"
[ "$(head -c 5 "$tmp/report.pdf")" = "%PDF-" ] || fail "report compliance wrote no PDF"
"$INSTALLED" --database "$db" audit verify
unset REGISTRY_USER REGISTRY_PASSWORD
# From 20,000 lots the demo builds its rows in a spawned process: in the frozen program that is the program
# itself, re-run for multiprocessing (resources/packaging/entry.py's freeze_support()).
"$INSTALLED" --database "sqlite:///$tmp/spawn.sqlite3" demo --lots 20000 | sed -n 1p

step "the installed program's window: sign in as pharmacist on Xvfb, main window, screenshot"
python3 resources/packaging/smoke_installed.py --program "$INSTALLED" --database "$db" --out "$SCREENSHOTS"

step "installed size and start time (bench/bench_bundle.py)"
python3 bench/bench_bundle.py --program "$INSTALLED" --runs 5 --database "$db"

printf '\n=== bundle: all checks passed in %d s (build %d s)\n' "$((SECONDS - began))" "$((built - began))"
