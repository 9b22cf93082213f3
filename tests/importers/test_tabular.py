"""Reading CSV files as tables: cells are trimmed whenever any cell has surrounding whitespace, wherever it is,
and left exactly as the csv module read them otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry_app.importers.tabular import read_table


@pytest.mark.parametrize(
    "content, expected",
    [
        (" name ,lot\nExo Glow 1, L1 \n", [["Exo Glow 1", "L1"]]),  # after a comma, at a line's start/end
        ('name,lot\n" Exo Glow 1",L1\n', [["Exo Glow 1", "L1"]]),  # inside quotes
        ("name,lot\r\nExo Glow 1,L1 \r\n", [["Exo Glow 1", "L1"]]),  # before CRLF
        ("name,lot\nExo Glow 1,\tL1\n", [["Exo Glow 1", "L1"]]),  # a tab
        ("name,lot\nExo Glow 1,L1\u00a0\n", [["Exo Glow 1", "L1"]]),  # a no-break space (non-ASCII file)
        ("name,lot\nExo Glow 1,L1 ", [["Exo Glow 1", "L1"]]),  # at the end of the file, no newline
        ('name,lot\n"Exo, Glow 1",L1\n', [["Exo, Glow 1", "L1"]]),  # inner whitespace stays
        ("name,lot\nExo  Glow 1,L1\n", [["Exo  Glow 1", "L1"]]),  # nothing to trim: read as is
    ],
)
def test_cells_are_trimmed(tmp_path: Path, content: str, expected: list[list[str]]) -> None:
    path = tmp_path / "lots.csv"
    path.write_text(content, encoding="utf-8", newline="")
    table = read_table(path)
    assert table.columns == ["name", "lot"]
    assert [cells for _, cells in table.rows] == expected
