#!/usr/bin/env bash
# An install as a user makes it: a wheel built from the project, installed into a fresh virtual environment
# outside the source tree, runs the registry with nothing from the checkout (migrations and resources
# come from inside the package). Prints each step; fails on the first that fails.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
work=$(mktemp -d -t registry-wheel.XXXXXX)
trap 'rm -rf "$work"' EXIT

python3 -m pip wheel -q --no-deps --wheel-dir "$work/dist" "$src"
wheel=$(ls "$work"/dist/registry_app-*.whl)
echo "built $(basename "$wheel") ($(du -h "$wheel" | cut -f1))"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$wheel" 2> >(grep -v "^WARNING: Location" >&2)

cd "$work"  # nothing of the checkout on the path
app="$work/venv/bin/registry-app"
db="sqlite:///$work/registry.sqlite3"
location=$("$work/venv/bin/python" -c 'import registry_app.migrations as m; print(m.__file__)')
case "$location" in "$work"/venv/*) echo "migrations from the installed package: $location" ;;
  *) echo "the migrations came from outside the installed package: $location" >&2; exit 1 ;; esac
export REGISTRY_LOG_DIR="$work/logs" QT_QPA_PLATFORM=offscreen
"$app" --version
"$app" --database "$db" db upgrade
"$app" --database "$db" demo --lots 200
export REGISTRY_USER=inspector REGISTRY_PASSWORD=inspector-demo  # a demo account the demo printed
"$app" --database "$db" flags --format json > "$work/flags.json"
"$work/venv/bin/python" -c "import json,sys; flags=json.load(open(sys.argv[1])); assert flags, 'no flags'; print(f'flags --format json: {len(flags)} flags')" "$work/flags.json"
"$app" --database "$db" report compliance --from 2000-01-01 --to 2100-12-31 --out "$work/report.pdf"
pages=$(pdfinfo "$work/report.pdf" | awk '/^Pages:/ {print $2}')
echo "report compliance: $pages pages"
[ "$pages" -gt 0 ]
# The desktop from the wheel: it must get as far as waiting at the sign-in dialog (killed by timeout: 124).
set +e
timeout 10 "$app" --database "$db"
status=$?
set -e
if [ "$status" -ne 124 ]; then echo "the desktop app from the wheel exited with $status" >&2; exit 1; fi
grep -q ": desktop" "$REGISTRY_LOG_DIR/registry.log"
echo "desktop app from the wheel: started and waited at the sign-in"
echo "wheel install: OK"
