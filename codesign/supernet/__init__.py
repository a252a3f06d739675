"""Weight-sharing quantized supernets, one builder per search space."""
from __future__ import annotations

from typing import Any

from fpga.errors import InputError


def build_supernet(space: Any) -> Any:
    """The supernet for ``space`` (torch is imported here, not at package import)."""
    if space.name == "cnv":
        from codesign.supernet.cnv import CnvSupernet
        return CnvSupernet(space)
    raise InputError("space", f"no supernet builder for space {space.name!r}", ["cnv"])
