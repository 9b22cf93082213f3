"""Calls for the permission matrix: one entry per changing service (services.CHANGING_SERVICES).

Each area has a module here exporting `CALLS: dict[str, Prepare]`, keyed like CHANGING_SERVICES
("module.function"). A `Prepare` gets a `MatrixSetup` (a fresh registry with one user per role, plus
contexts to create whatever the call needs) and returns the call to make as the role under test. The
matrix test (tests/services/test_permission_matrix.py) calls every service as every role: allowed roles
succeed and leave exactly one audit entry with before/after values; the others are refused and nothing
changes. A changing service without an entry here fails that test.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registry_app.db import Database
from registry_app.services import ServiceContext


@dataclass
class MatrixSetup:
    db: Database
    admin: ServiceContext
    pharmacist: ServiceContext
    director: ServiceContext
    inspector: ServiceContext
    passwords: dict[str, str]  # by role: the password of that role's test user, for signing services

    def password_for(self, ctx: ServiceContext) -> str:
        assert ctx.actor is not None
        return self.passwords[ctx.actor.role]


Call = Callable[[ServiceContext], Any]
Prepare = Callable[[MatrixSetup], Call]


def all_calls() -> dict[str, Prepare]:
    calls: dict[str, Prepare] = {}
    for module in pkgutil.iter_modules(__path__):
        calls.update(importlib.import_module(f"{__name__}.{module.name}").CALLS)
    return calls
