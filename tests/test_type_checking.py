"""The mypy configuration in pyproject.toml, read by mypy itself: the core packages get every per-module flag
that `--strict` turns on, the rest of the package does not (CI runs `mypy`, this checks what it is asked)."""

from __future__ import annotations

from pathlib import Path

import pytest

main = pytest.importorskip("mypy.main")
mypy_options = pytest.importorskip("mypy.options")

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
STRICT_PACKAGES = ("domain", "db", "rules", "services")


@pytest.fixture(autouse=True)
def _at_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PYPROJECT.parent)  # where CI runs mypy: the config's package is found from there


def _options(config: Path, *flags: str) -> mypy_options.Options:
    _, options = main.process_options(["--config-file", str(config), *flags])
    return options


@pytest.fixture(scope="module")
def strict_flags(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The per-module flags `--strict` changes, with the values it gives them (taken from the installed mypy,
    so a flag a new mypy adds to --strict shows up here)."""
    bare = tmp_path_factory.mktemp("mypy") / "mypy.ini"
    bare.write_text("[mypy]\nfiles = mypy.ini\n")  # something to check, or mypy stops at the command line
    plain, strict = _options(bare), _options(bare, "--strict")
    return {
        name: getattr(strict, name)
        for name in sorted(mypy_options.PER_MODULE_OPTIONS)
        if getattr(strict, name, None) != getattr(plain, name, None)
    }


def test_strict_changes_the_flags_the_override_names(strict_flags: dict[str, object]) -> None:
    assert {"disallow_untyped_defs", "warn_return_any", "disallow_any_generics"} <= strict_flags.keys()


@pytest.mark.parametrize("package", STRICT_PACKAGES)
def test_core_packages_are_checked_strict(package: str, strict_flags: dict[str, object]) -> None:
    options = _options(PYPROJECT).clone_for_module(f"registry_app.{package}.some_module")
    missing = {name: value for name, value in strict_flags.items() if getattr(options, name) != value}
    assert not missing, f"registry_app.{package} is not checked with these --strict flags: {missing}"


@pytest.mark.parametrize("module", ["registry_app.importers.cells", "registry_app.cli", "registry_app.launcher"])
def test_the_rest_is_checked_plainly(module: str) -> None:
    options = _options(PYPROJECT).clone_for_module(module)
    assert not options.disallow_untyped_defs and not options.warn_return_any


def test_ui_is_left_out() -> None:
    options = _options(PYPROJECT)
    assert options.exclude == ["^registry_app/ui/"]
    assert options.clone_for_module("registry_app.ui.main_window").follow_imports == "skip"
