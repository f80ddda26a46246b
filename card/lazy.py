"""A package's names loaded from their modules on first use (PEP 562 ``__getattr__``).

`myna` commands import ``card`` and ``card.apps`` for a few names; the modules behind the
others (channel, transports, the APs a command does not use) load only when asked for.
"""

from __future__ import annotations

TYPE_CHECKING = False  # mypy takes any name TYPE_CHECKING as true; no typing import at run time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def lazy_attributes(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``where[name]`` and returns its
    ``name``; an unknown name is an AttributeError, as for any module."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        return getattr(importlib.import_module(module), name)

    return __getattr__
