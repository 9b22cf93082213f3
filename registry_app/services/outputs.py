"""Output files (`--out` of export, report, bundle, backup): checked before any work, written to a temporary
file beside the target, flushed to disk, then renamed into place.

A reader therefore sees either the old file or the complete new one, never a half-written file (a full disk or
a crash leaves only the temporary, which is removed). An existing file is replaced only when asked (`replace`,
the CLI's --force), and a special file (FIFO, device, socket) never: renaming over /dev/sda or a named pipe
would destroy the node, and writing into one would hang or damage it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from registry_app.services.errors import ConflictError, StorageError, ValidationError


def output_target(out: str | Path, suffix: str | None = None, replace: bool = False) -> Path:
    """The absolute path to write, after the checks that need no work done: a file name, the right suffix, an
    existing folder, no special file, and an existing file only with `replace`."""
    if not str(out).strip():
        raise ValidationError("give the file to write", field="out")
    path = Path(out).expanduser()
    if suffix and path.suffix and path.suffix.lower() != suffix:
        raise ValidationError(
            f"{path.name} does not end in {suffix}: name the file {path.stem}{suffix}, or choose "
            "the format that matches the name",
            field="out",
        )
    final = path.resolve()
    if final.is_dir():
        raise ValidationError(f"{path} is a folder: give a file name", field="out")
    if not final.parent.is_dir():
        raise ValidationError(f"the folder {final.parent} does not exist", field="out")
    _check_existing(final, replace)
    return final


def _check_existing(final: Path, replace: bool) -> None:
    try:
        mode = os.stat(final).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        kind = (
            "a named pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
        raise ValidationError(f"{final} is {kind}: output is written to regular files only", field="out")
    if not replace:
        raise ConflictError(f"{final} exists already: choose another name, or replace it (--force)")


def _fsync_directory(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk (POSIX); Windows has no directory fsync.
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@contextmanager
def temporary_beside(final: Path) -> Iterator[Path]:
    """A new, empty temporary file in the target's folder (so the rename is atomic, never a copy across file
    systems); removed on the way out if it was not published."""
    handle, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise StorageError(
                f"the disk is full: {final} was not written, and nothing was left behind; free some space and try again"
            ) from error
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def publish(temporary: Path, final: Path, replace: bool) -> None:
    """Move a complete temporary file into place: flushed to disk first, then renamed, then the folder flushed.

    Without `replace` the move is a hard link, which fails if a file appeared under the name since the check
    (no window in which another file is overwritten); file systems without hard links fall back to a rename
    after a second check."""
    fsync_file(temporary)
    if replace:
        _check_existing(final, replace=True)
        os.replace(temporary, final)
    else:
        try:
            os.link(temporary, final)
        except FileExistsError:
            raise ConflictError(f"{final} exists already: choose another name, or replace it (--force)") from None
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            _check_existing(final, replace=False)
            os.replace(temporary, final)
        else:
            temporary.unlink()
    _fsync_directory(final.parent)
