"""table_of: a model's Table for Core statements, checked rather than cast."""

from __future__ import annotations

from typing import Any, cast

import pytest
from sqlalchemy import Table, select

from registry_app.domain import Base, CharacterizationResult, Lot, LotResultFacts
from registry_app.domain.base import table_of


@pytest.mark.parametrize("model", [Lot, CharacterizationResult, LotResultFacts])
def test_a_model_gives_its_own_table(model: type[Base]) -> None:
    table = table_of(model)
    assert isinstance(table, Table)
    assert table is model.__table__
    assert table is Base.metadata.tables[table.name]


def test_every_model_maps_a_plain_table() -> None:
    for mapper in Base.registry.mappers:
        assert table_of(mapper.class_).name == mapper.class_.__tablename__


def test_a_class_mapping_something_else_is_refused() -> None:
    class OverAQuery:  # as a class mapped onto a subquery would look to table_of
        __table__ = select(Lot.id).subquery()

    with pytest.raises(TypeError, match="OverAQuery maps Subquery, not a Table"):
        table_of(cast(Any, OverAQuery))
