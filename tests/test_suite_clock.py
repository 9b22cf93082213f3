"""The suite's own clock (tests/conftest.py): every run starts between 06:00 and 07:00 local time, so that dates the
tests compute and the services' `date.today()` cannot fall on two sides of midnight."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import _zone_far_from_midnight


@pytest.mark.parametrize("hour", range(24))
def test_the_zone_puts_every_utc_hour_at_six_in_the_morning(hour: int, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime(2026, 12, 31, hour, 59, 59, tzinfo=UTC)
    monkeypatch.setenv("TZ", _zone_far_from_midnight(now))
    time.tzset()
    try:
        local = time.localtime(now.timestamp())
        assert local.tm_hour == 6
        assert time.localtime((now + timedelta(hours=17)).timestamp()).tm_mday == local.tm_mday
    finally:
        monkeypatch.undo()
        time.tzset()


def test_this_run_uses_it() -> None:
    if os.environ.get("REGISTRY_TEST_TZ"):
        pytest.skip("REGISTRY_TEST_TZ chose the zone of this run")
    now = datetime.now(UTC)
    started_within_a_day = {_zone_far_from_midnight(now - timedelta(hours=h)) for h in range(24)}
    assert os.environ["TZ"] in started_within_a_day
    assert time.localtime().tm_hour >= 6  # no run lasts the 17 hours to local midnight
