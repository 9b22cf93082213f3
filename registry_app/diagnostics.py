"""Where the registry writes down what went wrong: a rotating log file in the user's log folder.

`configure_logging()` is called once by the launcher, before the desktop or a command runs. It sends the
`registry_app` loggers to `registry.log` (rotated at 1 MB, five kept) in platformdirs' user log directory
(REGISTRY_LOG_DIR overrides it, for tests and for clinics that collect logs centrally), and arms
`faulthandler` so that even a crash inside Qt leaves a Python stack in `crash.log` beside it.

Privacy: a log must never hold a patient reference or a password. The code logs no record values, the
database engine hides its statements' parameters (db/engine.py), and every line passes `redact()`, which
masks quoted values and anything that follows a password-like key, so an exception message such as
"no administration for patient 'Jane Doe 1980-04-01'" is written as "... patient '<redacted>'".
"""

from __future__ import annotations

import faulthandler
import logging
import os
import re
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import IO, Any

ENV_LOG_DIR = "REGISTRY_LOG_DIR"
LOG_NAME = "registry.log"
CRASH_NAME = "crash.log"
MAX_BYTES = 1_000_000
BACKUPS = 5

_QUOTED = re.compile(r"""'[^'\n]*'|"[^"\n]*\"""")
_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|secret|token|REGISTRY_PASSWORD)\b(\s*[=:]\s*)\S+")
_crash_file: IO[str] | None = None


def log_dir() -> Path:
    override = os.environ.get(ENV_LOG_DIR)
    if override:
        return Path(override)
    from platformdirs import user_log_dir

    return Path(user_log_dir("registry-app", appauthor=False))


def log_path() -> Path:
    return log_dir() / LOG_NAME


def redact(text: str) -> str:
    """Mask the values a message may carry: quoted strings and whatever follows a password-like key."""
    text = _SECRET.sub(lambda match: f"{match.group(1)}{match.group(2)}<redacted>", text)
    return _QUOTED.sub(lambda match: f"{match.group(0)[0]}<redacted>{match.group(0)[0]}", text)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(level: int = logging.INFO) -> Path | None:
    """Log to the rotating file; returns its path, or None where the folder cannot be written (a read-only
    home: the registry still works, it just keeps no log)."""
    global _crash_file
    logger = logging.getLogger("registry_app")
    folder = log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(folder / LOG_NAME, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"))
    for old in [h for h in logger.handlers if isinstance(h, RotatingFileHandler)]:
        logger.removeHandler(old)
        old.close()
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    crash_path = folder / CRASH_NAME
    if _crash_file is None or Path(_crash_file.name) != crash_path:
        try:
            # Kept open for the life of the process: faulthandler writes with the file's descriptor, at a
            # moment (a segmentation fault) when nothing could be opened.
            crash_file = open(crash_path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError:
            return folder / LOG_NAME
        faulthandler.enable(crash_file)
        if _crash_file is not None:
            _crash_file.close()
        _crash_file = crash_file
    return folder / LOG_NAME


def log_unexpected(error: BaseException, where: str) -> None:
    """Write an unexpected exception with its traceback (the values in its message masked)."""
    logging.getLogger("registry_app").error("unexpected error in %s", where, exc_info=error)


def describe_environment() -> dict[str, Any]:
    from . import __version__

    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "frozen": bool(getattr(sys, "frozen", False)),
    }
