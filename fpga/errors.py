"""The one error type user input raises, shared by every package.

``fpga`` is the bottom of the import graph (``codesign`` -> ``hw_models`` -> ``fpga``),
so the error lives here, with the checks of the files a command reads (:func:`read_json_file`)
and writes (:func:`check_out_file`, :func:`check_out_dir`).  The CLI turns an InputError into a
one-line message and exit code 2.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterable


class InputError(ValueError):
    """Bad user input: names the offending field and, where known, the accepted values."""

    def __init__(self, field: str, message: str, accepted: object | None = None) -> None:
        self.field = field
        self.accepted = accepted
        text = f"{field}: {message}"
        if accepted is not None:
            if isinstance(accepted, (list, tuple, set, frozenset)):
                acc = ", ".join(str(a) for a in accepted)
            else:
                acc = str(accepted)
            text += f" (accepted: {acc})"
        super().__init__(text)


class _NonFinite(ValueError):
    """A NaN/Infinity literal (or a number too large for a float) in a JSON text."""


def _reject_constant(name: str) -> float:
    raise _NonFinite(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise _NonFinite(f"{text} is out of range for a floating-point number")
    return v


def one_line(text: str) -> str:
    """``text`` with its line breaks folded into spaces (an error message is one line)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def check_input_file(path: str | Path, field: str) -> Path:
    """``path`` as a readable regular file; otherwise an InputError on ``field`` saying why
    (missing, a directory, a broken symbolic link, not a regular file)."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise InputError(field, f"{path} is a broken symbolic link (its target "
                         f"{os.readlink(path)!r} does not exist)")
    if not path.exists():
        raise InputError(field, f"file not found: {path}")
    if path.is_dir():
        raise InputError(field, f"{path} is a directory, not a file")
    if not path.is_file():
        raise InputError(field, f"{path} is not a regular file")
    return path


def read_json_file(path: str | Path, field: str) -> Any:
    """Parse the JSON file ``path``; a missing, unreadable or malformed file is an InputError on
    ``field``.

    Strict JSON (RFC 8259): UTF-8 text (a byte-order mark is tolerated), no ``NaN``/``Infinity``
    literals and no number a float cannot hold; nesting too deep for the parser is refused too.
    """
    path = check_input_file(path, field)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(field, f"{path} cannot be read ({exc.strerror or exc})") from None
    if not raw.strip():
        raise InputError(field, f"{path} is empty (truncated file?)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        kind = ("UTF-16/32 text" if raw[:2] in (b"\xff\xfe", b"\xfe\xff")
                else "binary data, or text in another encoding")
        raise InputError(field, f"{path} is not UTF-8 JSON text ({kind}: byte "
                         f"{exc.object[exc.start]:#04x} at offset {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise InputError(field, f"{path} is not valid JSON ({exc})") from None
    except _NonFinite as exc:
        raise InputError(field, f"{path} is not valid JSON ({exc}; NaN and Infinity are not "
                         "allowed)") from None
    except RecursionError:
        raise InputError(field, f"{path} is not valid JSON for this toolkit (nested too "
                         "deeply)") from None
    except ValueError as exc:  # e.g. an integer literal with thousands of digits
        raise InputError(field, f"{path} is not valid JSON for this toolkit "
                         f"({one_line(exc).split(';')[0]})") from None


def _nearest_existing(path: Path) -> Path:
    p = path
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def _check_parents(path: Path, field: str) -> None:
    """Every existing ancestor of ``path`` is a writable directory (missing ones may be made)."""
    anc = _nearest_existing(path.parent if path.parent != path else path)
    if os.path.lexists(anc) and not anc.is_dir():
        raise InputError(field, f"{path}: {anc} exists and is not a directory")
    if os.path.lexists(anc) and not os.access(anc, os.W_OK | os.X_OK):
        raise InputError(field, f"{path}: the directory {anc} is not writable")


def check_out_file(path: str | Path, field: str) -> Path:
    """``path`` can be written as a file (atomically: a temporary file next to it, then a
    rename): it is not a directory or anything but a regular file, and its folder is (or can be
    made as) a writable directory.  Checked before any work, so that nothing is written when it
    cannot be."""
    path = Path(path)
    if str(path) in ("", "."):
        raise InputError(field, "an empty path", ["a file path"])
    if path.is_dir():
        raise InputError(field, f"{path} is a directory", ["a file path (new, or a file to "
                                                           "replace)"])
    if os.path.lexists(path) and not path.is_symlink() and not path.is_file():
        raise InputError(field, f"{path} exists and is not a regular file", ["a file path"])
    _check_parents(path, field)
    return path


def check_out_dir(path: str | Path, field: str, own: Iterable[str] = (),
                  what: str = "output of this command") -> Path:
    """``path`` can be used as an output folder: new, empty, or holding only the files ``own``
    names (an earlier output of the same command, which is replaced; their hidden temporary
    files too).  A file, a broken link, or a folder holding anything else is refused."""
    path = Path(path)
    own = tuple(own)
    accepted = ["a new or empty folder"] + ([f"an earlier {what} (only "
                                             f"{', '.join(own)})"] if own else [])
    if path.is_symlink() and not path.exists():
        raise InputError(field, f"{path} is a broken symbolic link", accepted)
    if os.path.lexists(path) and not path.is_dir():
        raise InputError(field, f"{path} exists and is not a folder", accepted)
    if path.is_dir():
        try:
            entries = sorted(p.name for p in path.iterdir())
        except OSError as exc:
            raise InputError(field, f"{path} cannot be listed ({exc.strerror or exc})") from None
        foreign = [n for n in entries if n not in own and not _own_temp(n, own)]
        if foreign:
            more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            raise InputError(field, f"{path} is not empty and not an earlier {what}: it holds "
                             f"{', '.join(foreign[:3])}{more}", accepted)
        for n in own:
            p = path / n
            if os.path.lexists(p) and (p.is_dir() or not p.is_file()):
                raise InputError(field, f"{p} exists and is not a regular file", accepted)
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError(field, f"{path} is not writable")
    else:
        _check_parents(path, field)
    return path


def _own_temp(name: str, own: Iterable[str]) -> bool:
    """A temporary file :func:`codesign.io.atomic_write_bytes` leaves for one of ``own``."""
    return any(name.startswith(f".{n}.") and name.endswith(".tmp") for n in own)
