"""The one palette shared by the desktop and the reports: a colour per flag severity and a few states.

Read from the packaged resources/palette.json (importlib.resources), so a designer changes a colour in one
place and the lots table, the flag lists, the dashboard and the compliance PDF follow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..packaged import resource_files


@dataclass(frozen=True)
class SeverityColour:
    colour: str  # the severity itself: text on white, bars, badges
    text: str  # text drawn on a fill of `colour`


@dataclass(frozen=True)
class Palette:
    severity: dict[str, SeverityColour]
    state: dict[str, str]

    def severity_colour(self, severity: str | None, default: str = "#000000") -> str:
        found = self.severity.get(severity or "")
        return found.colour if found else default


def _load() -> dict[str, Any]:
    text = resource_files().joinpath("palette.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


@cache
def palette() -> Palette:
    raw = _load()
    return Palette(
        severity={name: SeverityColour(**entry) for name, entry in raw["severity"].items()},
        state=dict(raw["state"]),
    )
