"""A process that records administrations through the service, for the server-restart fault test and
bench/bench_multisite.py. It puts one message per outcome on a queue as soon as the service returns, so the
parent knows exactly which administrations were reported saved."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from multiprocessing import Queue

from registry_app.services import Actor, RegistryError, ServiceContext


def record_burst(url: str, actor: Actor, lot_id: int, tag: str, count: int, results: Queue) -> None:
    """Record `count` administrations of the lot, patient references PT-TAG-00000...: puts ("saved", ref, id,
    seconds), ("refused", ref, message) or ("crashed", ref, text) for each, then ("done", tag)."""
    from registry_app.db import Database
    from registry_app.services.administrations import AdministrationInput, record_administration

    ctx = ServiceContext(Database(url), actor)
    given = datetime.combine(date.today() - timedelta(days=1), datetime.min.time()).replace(hour=10)
    try:
        for i in range(count):
            ref = f"PT-{tag}-{i:05d}"
            entry = AdministrationInput(
                lot_id=lot_id,
                administered_at=given,
                route="topical_intact",
                patient_ref=ref,
                body_areas=("face",),
                quantity=1,
                practitioner="dr.nguyen",
                screening_done=True,
            )
            started = time.perf_counter()
            try:
                result = record_administration(ctx, entry, confirm=True)
            except RegistryError as error:
                results.put(("refused", ref, str(error)))
                continue
            except Exception as error:  # the test fails on any of these: a raw driver error is a crash
                results.put(("crashed", ref, f"{type(error).__name__}: {error}"))
                continue
            results.put(("saved", ref, result.administration_id, time.perf_counter() - started))
    finally:
        ctx.db.dispose()
        results.put(("done", tag))
