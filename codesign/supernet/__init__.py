"""Weight-sharing quantized supernets, one builder per search space (registered by name)."""
from __future__ import annotations

from typing import Any, Callable

from fpga.errors import InputError

_BUILDERS: dict[str, Callable[[Any], Any]] = {}


def register_supernet(*space_names: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register a supernet builder (``space -> nn.Module``) for the named search spaces."""
    def deco(builder: Callable[[Any], Any]) -> Callable[[Any], Any]:
        for name in space_names:
            if name in _BUILDERS:
                raise ValueError(f"supernet builder for space {name!r} registered twice")
            _BUILDERS[name] = builder
        return builder
    return deco


def list_supernets() -> list[str]:
    _load_builtin()
    return sorted(_BUILDERS)


def build_supernet(space: Any) -> Any:
    """The supernet for ``space`` (torch is imported here, not at package import)."""
    _load_builtin()
    if space.name not in _BUILDERS:
        raise InputError("space", f"no supernet builder for space {space.name!r}",
                         sorted(_BUILDERS))
    return _BUILDERS[space.name](space)


def _load_builtin() -> None:
    from codesign.supernet import cnv  # noqa: F401  (registers itself)
