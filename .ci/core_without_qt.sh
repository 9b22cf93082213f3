#!/usr/bin/env bash
# The core (domain, db, rules, importers, services, CLI) with no Qt at all: a virtual environment holding the
# project's dependencies except PySide6 (and pytest-qt), and the test suite less tests/ui and the `qt` tests.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d -t registry-noqt.XXXXXX)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
mapfile -t requirements < <(python3 - <<'PY'
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = project["optional-dependencies"]
for requirement in project["dependencies"] + extras["test"] + extras["completion"]:
    if not requirement.lower().startswith(("pyside6", "pytest-qt")):
        print(requirement.split(";")[0].split("#")[0].strip())
PY
)
"$venv/bin/python" -m pip install -q "${requirements[@]}" 2> >(grep -v "^WARNING: Location" >&2)
"$venv/bin/python" -m pip install -q --no-deps -e . 2> >(grep -v "^WARNING: Location" >&2)
if "$venv/bin/python" -c "import PySide6" 2>/dev/null; then echo "PySide6 is importable: not a Qt-free run" >&2; exit 1; fi
"$venv/bin/python" -m pytest -q -p no:cacheprovider --ignore=tests/ui -m "not qt"
