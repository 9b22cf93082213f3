"""Working over a network (issue 23): a dropped connection or a restarted server during work gives a clear
message and a retry of the whole transaction, never a half-saved record and never a record saved twice.

The fault test restarts the PostgreSQL server of the `-m db` run in the middle of a burst of administrations
from two processes. It needs the server's folder (.ci/pg.sh's DIR) in REGISTRY_TEST_PG_DIR, which .ci/run sets.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import subprocess
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from registry_app.db import Database, network
from registry_app.domain import Administration, AuditEntry, Lot
from registry_app.services import Actor, SaveOutcomeUnknown, ServerUnreachable, ServiceContext
from registry_app.services.administrations import record_administration
from registry_app.services.context import server_failure

from ..conftest import PG_URL
from ..services.use_data import entry, make_lot, make_product
from .network_workers import record_burst

PG_DIR = os.environ.get("REGISTRY_TEST_PG_DIR")
PG_SH = Path(__file__).resolve().parents[2] / ".ci" / "pg.sh"
postgres_only = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: set REGISTRY_TEST_DATABASE_URL (.ci/run)")
DROPPED = psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")


def _ref_counts(db: Database, prefix: str) -> Counter[str]:
    with db.read() as session:
        refs = session.execute(select(Administration.patient_ref).where(Administration.patient_ref.like(f"{prefix}%")))
        return Counter(refs.scalars())


# -------------------------------------------------------------------------------------- out of reach, any run


def test_a_server_out_of_reach_is_a_clear_message_after_the_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("registry_app.services.context.time.sleep", waits.append)
    nowhere = "postgresql+psycopg://app@/registry?host=/nonexistent-socket-dir&port=1"
    ctx = ServiceContext(Database(nowhere), Actor(2, "pharmacist", "pharmacist"))
    with pytest.raises(ServerUnreachable, match=r"could not be reached .*Nothing was saved; try again"):
        record_administration(ctx, entry(1))
    assert waits == list(network.RECONNECT_DELAYS), "every attempt waited its turn, then the message"
    ctx.db.dispose()


def test_a_dropped_read_becomes_the_same_clear_message() -> None:
    error = OperationalError("SELECT 1", {}, DROPPED)
    failure = server_failure(error)
    assert isinstance(failure, ServerUnreachable)
    assert "server closed the connection unexpectedly" in str(failure)
    assert server_failure(OperationalError("SELECT 1", {}, Exception("database is locked"))) is None


# ------------------------------------------------------------------------------- simulated drops, PostgreSQL


def _drop_at_write_commit(monkeypatch: pytest.MonkeyPatch, *, commit_first: bool) -> list[int]:
    """Make the next COMMIT of a write transaction (one that took its transaction id) lose its connection,
    after committing (`commit_first`: the acknowledgement is lost) or instead of it. Returns the ids dropped."""
    real_commit, real_transaction_id = Session.commit, network.transaction_id
    armed: list[int] = []
    dropped: list[int] = []

    def transaction_id(session: Session) -> int:
        xid = real_transaction_id(session)
        if not dropped:
            armed.append(xid)
        return xid

    def commit(session: Session) -> None:
        if not armed:
            real_commit(session)
            return
        dropped.append(armed.pop())
        if commit_first:
            real_commit(session)
        else:
            session.rollback()
        raise OperationalError("COMMIT", {}, DROPPED)

    monkeypatch.setattr("registry_app.db.engine.transaction_id", transaction_id)
    monkeypatch.setattr(Session, "commit", commit)
    return dropped


@postgres_only
def test_a_lost_commit_acknowledgement_is_not_saved_twice(
    monkeypatch: pytest.MonkeyPatch, pharmacist: ServiceContext
) -> None:
    """The server committed, then the connection dropped before its answer: the service asks the server what
    became of the transaction and returns its result, instead of saving the administration again."""
    lot_id = make_lot(pharmacist.db, make_product(pharmacist.db), quantity=100)
    dropped = _drop_at_write_commit(monkeypatch, commit_first=True)
    result = record_administration(pharmacist, entry(lot_id, patient_ref="PT-ACK-1"))
    monkeypatch.undo()

    assert len(dropped) == 1
    assert _ref_counts(pharmacist.db, "PT-ACK-") == {"PT-ACK-1": 1}
    with pharmacist.db.read() as session:
        assert session.get(Administration, result.administration_id).patient_ref == "PT-ACK-1"
        assert session.get(Lot, lot_id).quantity_administered == 1
        entries = session.execute(
            select(func.count()).where(
                AuditEntry.action == "record administration", AuditEntry.entity_id == str(result.administration_id)
            )
        ).scalar_one()
        assert entries == 1


@postgres_only
def test_a_connection_killed_inside_the_transaction_is_retried_whole(
    monkeypatch: pytest.MonkeyPatch, pharmacist: ServiceContext
) -> None:
    """The server ends the connection mid-transaction (as a restart does): the transaction rolled back, so the
    whole service call runs again and saves the administration once."""
    lot_id = make_lot(pharmacist.db, make_product(pharmacist.db), quantity=100)
    real_transaction_id = network.transaction_id
    killed: list[int] = []

    def kill_own_backend_once(session: Session) -> int:
        if not killed:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with pharmacist.db.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            killed.append(pid)
        return real_transaction_id(session)

    monkeypatch.setattr("registry_app.db.engine.transaction_id", kill_own_backend_once)
    record_administration(pharmacist, entry(lot_id, patient_ref="PT-KILL-1"))

    assert len(killed) == 1
    assert _ref_counts(pharmacist.db, "PT-KILL-") == {"PT-KILL-1": 1}
    with pharmacist.db.read() as session:
        assert session.get(Lot, lot_id).quantity_administered == 1


@postgres_only
def test_a_commit_whose_outcome_cannot_be_asked_says_so(
    monkeypatch: pytest.MonkeyPatch, pharmacist: ServiceContext
) -> None:
    lot_id = make_lot(pharmacist.db, make_product(pharmacist.db), quantity=100)

    def unknown(*_args: object) -> bool:
        raise network.CommitOutcomeUnknown("the server could not be asked")

    dropped = _drop_at_write_commit(monkeypatch, commit_first=False)
    monkeypatch.setattr("registry_app.db.engine.committed", unknown)
    with pytest.raises(SaveOutcomeUnknown, match="may or may not have been saved"):
        record_administration(pharmacist, entry(lot_id, patient_ref="PT-UNK-1"))
    assert len(dropped) == 1


@postgres_only
def test_a_commit_the_server_did_not_make_is_retried(
    monkeypatch: pytest.MonkeyPatch, pharmacist: ServiceContext
) -> None:
    lot_id = make_lot(pharmacist.db, make_product(pharmacist.db), quantity=100)
    dropped = _drop_at_write_commit(monkeypatch, commit_first=False)
    record_administration(pharmacist, entry(lot_id, patient_ref="PT-ABORT-1"))
    monkeypatch.undo()
    assert len(dropped) == 1
    assert _ref_counts(pharmacist.db, "PT-ABORT-") == {"PT-ABORT-1": 1}


# ------------------------------------------------------------------------------------ the real restart


def _restart_server() -> None:
    subprocess.run(["bash", str(PG_SH), "restart", str(PG_DIR)], check=True, timeout=60)


def _started_at(db: Database) -> object:
    with db.read() as session:
        return session.execute(text("SELECT pg_postmaster_start_time()")).scalar_one()


@postgres_only
@pytest.mark.skipif(not PG_DIR, reason="set REGISTRY_TEST_PG_DIR to .ci/pg.sh's folder (.ci/run does) to restart it")
def test_server_restart_during_a_burst_from_two_processes(db: Database, template_users: dict[str, Actor]) -> None:
    per_process = 120
    lot_id = make_lot(db, make_product(db), quantity=10_000)
    started_before = _started_at(db)
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    workers = [
        spawn.Process(
            target=record_burst, args=(db.url, template_users["pharmacist"], lot_id, tag, per_process, results)
        )
        for tag in ("A", "B")
    ]
    for worker in workers:
        worker.start()
    saved: dict[str, int] = {}
    problems: list[tuple[object, ...]] = []
    done = 0
    saved_at_restart = None
    deadline = time.monotonic() + 300
    try:
        while done < len(workers):
            try:
                message = results.get(timeout=max(1.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"the workers stopped answering ({len(saved)} saved)")
            if message[0] == "saved":
                saved[message[1]] = message[2]
            elif message[0] == "done":
                done += 1
            else:
                problems.append(message)
            if saved_at_restart is None and len(saved) >= 40:
                saved_at_restart = len(saved)
                _restart_server()
    finally:
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()

    assert saved_at_restart is not None, "the burst ended before the server was restarted"
    assert _started_at(db) != started_before, "the server did not restart"
    assert not problems, f"a dropped connection must be retried, not reported: {problems[:3]}"
    assert len(saved) > saved_at_restart + 10, "no administration was saved after the restart"
    assert len(saved) == 2 * per_process
    counts = _ref_counts(db, "PT-")
    assert [ref for ref, n in counts.items() if n > 1] == [], "an administration was saved twice"
    with db.read() as session:
        query = select(Administration.patient_ref, Administration.id).where(Administration.lot_id == lot_id)
        rows = {ref: row_id for ref, row_id in session.execute(query)}
        assert {ref: rows.get(ref) for ref in saved} == saved, "an administration reported saved is missing"
        assert session.get(Lot, lot_id).quantity_administered == len(rows)
