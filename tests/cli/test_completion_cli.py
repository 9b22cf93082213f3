"""Shell completion (`--print-completion bash|zsh`) when the optional extra `completion` (shtab) is installed."""

from __future__ import annotations

import pytest

from registry_app.cli import main


def test_bash_and_zsh_scripts_name_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("shtab")
    for shell in ("bash", "zsh"):
        assert main(["--print-completion", shell]) == 0
        script = capsys.readouterr().out
        for command in ("release", "waive", "excursion", "flags", "document"):
            assert command in script
