"""``Record`` and ``FrozenRecord``: what ``@dataclass(slots=True)`` and
``@dataclass(frozen=True, slots=True)`` give the card's value types, without the dataclasses module.

Every `myna` command that talks to a card builds APDUs, TLVs and records. Importing dataclasses
(inspect, ast, dis and tokenize come with it) and generating every class's methods cost
`myna status` half a bare Python start; these bases cost nothing at import.

A subclass names its fields in order in ``__match_args__``, makes that its ``__slots__``, and
sets the fields in its own typed ``__init__`` with ``_assign`` (``object.__setattr__``, as
dataclasses does). Equality, hashing, ``repr``, ``match``, copying and pickling follow the
fields as the dataclass versions did; assigning to a frozen record raises
``dataclasses.FrozenInstanceError``, as before.
"""

from __future__ import annotations

TYPE_CHECKING = False  # mypy takes any name TYPE_CHECKING as true; no typing import at run time
if TYPE_CHECKING:
    from typing import Any


class Record:
    """Fields in ``__match_args__`` order; compared by value, unhashable (it may change)."""

    __match_args__: tuple[str, ...] = ()  # the fields in order (a linter may sort __slots__)
    __slots__ = ()

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__match_args__)

    # Defining __eq__ without __hash__ makes the class unhashable, as a mutable dataclass is.
    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{self.__class__.__qualname__}({shown})"

    def __getstate__(self) -> tuple[Any, ...]:
        return self._fields()

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self._assign(*state)

    def _assign(self, *values: Any) -> None:
        """Set every field, in ``__match_args__`` order (a frozen record's ``__init__`` uses it)."""
        for name, value in zip(self.__match_args__, values, strict=True):
            object.__setattr__(self, name, value)


class FrozenRecord(Record):
    """A ``Record`` that cannot change after ``__init__``, and so is hashable."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __setattr__(self, name: str, value: object) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")
