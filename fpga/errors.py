"""The one error type user input raises, shared by every package.

``fpga`` is the bottom of the import graph (``codesign`` -> ``hw_models`` -> ``fpga``),
so the error lives here.  The CLI turns it into a one-line message and a non-zero exit.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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


def read_json_file(path: str | Path, field: str) -> Any:
    """Parse the JSON file ``path``; a missing or malformed file is an InputError on ``field``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(field, f"file not found: {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(field, f"{path} is not valid JSON ({exc})") from None
