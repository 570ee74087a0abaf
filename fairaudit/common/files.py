"""File helpers: atomic writes, output paths checked before the work, and a fallback
when a write still fails at the end, so that finished work is never lost."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from fairaudit.common.errors import FairauditInputError

#: an output path that cannot be written (message template)
OUTPUT_NOT_WRITABLE = (
    "{name}: cannot write {path!r}: {why}. Fix: choose a {what} path where you can write."
)
#: a write that failed after the work was done; the work went to a fallback file
OUTPUT_SAVED_ELSEWHERE = (
    "{name}: writing {path!r} failed ({why}); the finished work was saved to {fallback!r} instead. "
    "Fix: move that file where you want it, or rerun with a writable {name}."
)
#: neither the output nor a fallback could be written
OUTPUT_LOST = (
    "{name}: writing {path!r} failed ({why}), and so did the fallback {fallback!r} ({why2}). Fix: free "
    "disk space or choose a writable {name}."
)


class OutputPathError(FairauditInputError):
    """An output path that cannot be written, found before or after the work.

    ``why`` is the short cause (``"Permission denied"``, ``"it is a directory"``).
    """

    def __init__(self, message: str, why: str = "") -> None:
        super().__init__(message)
        self.why = why


def _why(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` on success.

    The rename is atomic on POSIX file systems, so readers see either the old
    file or the complete new one, never a partial write. The temporary file is
    removed if the body raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        # mkstemp creates 0600 files; give the result the permissions a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | os.PathLike, text: str, *, name: str = "path") -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8).

    An unwritable ``path`` raises :class:`OutputPathError` naming ``name``
    (the argument or option the path came from), never a bare ``OSError``.
    """
    try:
        with atomic_write(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        why = blocked_parent(path) or _why(exc)
        raise OutputPathError(OUTPUT_NOT_WRITABLE.format(
            name=name, path=str(path), why=why, what="file"), why) from None
    return Path(path)


def blocked_parent(path: str | os.PathLike) -> str | None:
    """Why ``path``'s directory cannot exist: the nearest existing ancestor is a file (or None)."""
    for parent in Path(path).parents:
        if parent.exists():
            return None if parent.is_dir() else f"{str(parent)!r} is a file, not a directory"
    return None


def check_output(path: str | os.PathLike, *, name: str, directory: bool = False) -> Path:
    """Make sure ``path`` can be written before any work starts; nothing is created.

    For a file: ``path`` must not be an existing directory, and its directory
    must exist and accept a new file, or be creatable (its nearest existing
    ancestor is a directory that accepts one). For a directory
    (``directory=True``): the same for the directory itself. Raises
    :class:`OutputPathError` naming ``name``.
    """
    p = Path(path)
    what = "directory" if directory else "file"

    def fail(why: str) -> OutputPathError:
        return OutputPathError(OUTPUT_NOT_WRITABLE.format(name=name, path=str(path), why=why, what=what), why)

    if str(path) == "":
        raise fail("the path is empty")
    if directory:
        if p.exists() and not p.is_dir():
            raise fail("it exists and is not a directory")
        folder = p
    else:
        if p.is_dir():
            raise fail("it is a directory")
        folder = p.parent
    if folder.exists() and not folder.is_dir():
        raise fail(f"{str(folder)!r} is a file, not a directory")
    blocked = blocked_parent(folder / "_")
    if blocked:
        raise fail(blocked)
    existing = next(d for d in [folder, *folder.parents] if d.exists())
    try:  # a real probe: permissions bits do not tell on read-only mounts or for root
        fd, probe = tempfile.mkstemp(prefix=".fairaudit-write-check.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise fail(f"{str(existing)!r}: {_why(exc)}" if existing != folder else _why(exc)) from None
    if not directory and p.exists() and not os.access(p, os.W_OK):
        # the rename of an atomic write would replace it, but a read-only file says "keep me"
        raise fail("the file exists and is read-only")
    return p


def fallback_path(path: str | os.PathLike) -> Path:
    """Where work goes when ``path`` cannot be written: the current directory if writable,
    else the system's temporary directory; the name keeps the suffix and adds a time stamp."""
    p = Path(path)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"fairaudit-rescued-{stamp}-{p.stem or 'output'}{p.suffix}"
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        if os.access(folder, os.W_OK):
            candidate = folder / name
            k = 1
            while candidate.exists():
                candidate = folder / f"{Path(name).stem}-{k}{p.suffix}"
                k += 1
            return candidate
    return Path(tempfile.gettempdir()) / name


def save_or_fallback(write: Callable[[Path], object], path: str | os.PathLike, *, name: str) -> Path:
    """Call ``write(path)``; if it fails with an OS error, call ``write(fallback)`` and raise
    :class:`OutputPathError` saying where the work went.

    ``write`` must write the whole output to the path it is given (atomically).
    Used at the end of long work, after :func:`check_output` passed at its start,
    for the rare write that still fails (a full disk, a directory removed meanwhile).
    """
    try:
        write(Path(path))
        return Path(path)
    except (OSError, OutputPathError) as exc:
        why = (blocked_parent(path) or _why(exc)) if isinstance(exc, OSError) else (exc.why or "not writable")
        rescue = fallback_path(path)
        try:
            write(rescue)
        except (OSError, OutputPathError) as exc2:
            why2 = _why(exc2) if isinstance(exc2, OSError) else (exc2.why or "not writable")
            raise OutputPathError(OUTPUT_LOST.format(
                name=name, path=str(path), why=why, fallback=str(rescue), why2=why2)) from None
        raise OutputPathError(OUTPUT_SAVED_ELSEWHERE.format(
            name=name, path=str(path), why=why, fallback=str(rescue))) from None


def save_outputs(items: "list[tuple[str, str | os.PathLike, Callable[[Path], object]]]") -> list[Path]:
    """Write several outputs ``(name, path, write)`` with :func:`save_or_fallback` each.

    Every output is attempted even when an earlier one fails; the failures are
    then raised together as one :class:`OutputPathError` (one line).
    """
    written: list[Path] = []
    failed: list[str] = []
    for name, path, write in items:
        try:
            written.append(save_or_fallback(write, path, name=name))
        except OutputPathError as exc:
            failed.append(str(exc))
    if failed:
        raise OutputPathError(" ".join(failed))
    return written
