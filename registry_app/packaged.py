"""Where the data shipped with the code is: the Alembic migrations and the resources (icons, fonts, palette,
stylesheet, import templates).

Both live in top-level folders of the source tree (migrations/, resources/) and ship inside the package as
registry_app.migrations and registry_app.resources (setup.py maps them), so a wheel, an editable install
and a desktop bundle all find them with importlib.resources. Running straight from a checkout that was
never installed, the package has no such subpackages: the folders beside it are used instead.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[1]


def _packaged(package: str, folder: str) -> Traversable:
    beside = _CHECKOUT / folder
    if (_CHECKOUT / "pyproject.toml").is_file() and beside.is_dir():
        # Running from a source tree: its own folder, even when an editable install of another checkout (a
        # git worktree beside this one) maps registry_app.migrations to that checkout's folder.
        return beside
    try:
        return resources.files(package)
    except ModuleNotFoundError:
        return beside


def resource_files() -> Traversable:
    """The resources folder: `resource_files().joinpath("fonts", "DejaVuSans.ttf").read_bytes()`."""
    return _packaged("registry_app.resources", "resources")


def migrations_dir() -> Path:
    # Alembic reads its scripts from the file system; a wheel or a bundle unpacks them as plain files.
    return Path(str(_packaged("registry_app.migrations", "migrations")))
