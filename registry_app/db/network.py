"""Working with a registry on a PostgreSQL server over a network: which errors mean "the connection is gone",
how long to wait for the server to come back, and what became of a transaction whose COMMIT got no answer.

A dropped connection or a restarted server rolls back every transaction that had not committed, so the
caller may run the whole transaction again (services/context.py does, for every changing service). The one
doubtful moment is the COMMIT itself: the server may have committed and the acknowledgement been lost on
the way back. Running the transaction again then would save it twice. PostgreSQL keeps each transaction's
outcome: Database.write() takes the transaction's id (`txid_current()`) just before COMMIT, and after a lost
acknowledgement asks the server, on a new connection, `txid_status(id)`: committed (the block returns as if
nothing happened), aborted (the error goes up and the transaction is run again), or, while the server stays
out of reach, CommitOutcomeUnknown. No table and no key to keep: the server's commit log is the record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

# Waits between attempts while the server is out of reach: 7.7 s in all, long enough for a server restart,
# short enough that a user waiting on a save is told what is happening.
RECONNECT_DELAYS: Sequence[float] = (0.2, 0.5, 1.0, 2.0, 4.0)

# SQLSTATE 08xxx: connection exceptions; 57P01-57P03: the server is shutting down, crashed, or starting up.
_SERVER_GONE_STATES = frozenset({"57P01", "57P02", "57P03"})

log = logging.getLogger(__name__)

# Set while a caller retries the whole transaction itself (services/context.py): a read inside it then fails
# at once instead of waiting for the server too, so the waits never multiply.
_retried_whole: ContextVar[bool] = ContextVar("registry_retried_whole", default=False)


@contextmanager
def whole_transaction_retried() -> Iterator[None]:
    token = _retried_whole.set(True)
    try:
        yield
    finally:
        _retried_whole.reset(token)


def reads_wait_for_server() -> bool:
    return not _retried_whole.get()


class CommitOutcomeUnknown(RuntimeError):
    """The connection dropped during COMMIT and the server could not be asked afterwards whether the
    transaction committed: it may or may not be saved."""


def is_connection_lost(error: BaseException) -> bool:
    """Whether a database error means the connection to the server is gone or could not be made (network,
    server restart, server shutting down or starting up): retrying the whole transaction later may succeed."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    orig = error.orig if isinstance(error, DBAPIError) else error
    if not type(orig).__module__.startswith("psycopg"):
        return False  # SQLite has no connection to lose; its busy and I/O errors are handled elsewhere
    import psycopg

    state = getattr(orig, "sqlstate", None)
    if state is None:
        # psycopg raises OperationalError without a SQLSTATE for failures of the connection itself (refused,
        # closed by the server, socket gone); every server-side error carries one.
        return isinstance(orig, psycopg.OperationalError)
    return state.startswith("08") or state in _SERVER_GONE_STATES


def transaction_id(connection_holder: object) -> int:
    """The current transaction's id, assigned now if it had none (every write transaction gets one)."""
    return int(connection_holder.execute(text("SELECT txid_current()")).scalar_one())  # type: ignore[attr-defined]


def committed(engine: Engine, xid: int, delays: Sequence[float] = RECONNECT_DELAYS) -> bool:
    """Whether transaction `xid` committed, asked on a new connection, waiting for the server to come back.
    Raises CommitOutcomeUnknown when it cannot be told within the waits."""
    for delay in (0.0, *delays):
        time.sleep(delay)
        try:
            with engine.connect() as connection:
                status = connection.execute(text("SELECT txid_status(:xid)"), {"xid": xid}).scalar()
        except DBAPIError as error:
            if not is_connection_lost(error):
                raise
            continue
        if status == "committed":
            log.warning("the acknowledgement of a commit was lost; the server says transaction %s committed", xid)
            return True
        if status == "aborted":
            return False
        # "in progress": the server is still finishing the COMMIT that lost its connection; ask again.
    raise CommitOutcomeUnknown(
        f"the connection to the database server was lost while saving, and the server could not be asked "
        f"afterwards whether transaction {xid} was saved"
    )
