"""Things found by the name a config gives them: encoders, augmentations, losses and file readers.

A :class:`Registry` maps names to classes (or, for readers, to modules imported on first use). Looking
up an unknown name, or building with an unknown parameter, is a one-line error of the registry's own
kind that suggests the nearest name and lists the accepted ones. Adding an encoder, a transform, a loss
or a reader is one new file and one entry in its registry (see ``docs/design.md``).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator, Mapping
from typing import Any

from jetgraph.errors import JetGraphError, suggest


class Registry(Mapping[str, Any]):
    """Entries by name: a read-only mapping, with :meth:`parameters` and :meth:`build`.

    Args:
        kind: what an entry is, for messages (``"encoder"``, ``"transform"``...).
        error: the :class:`JetGraphError` subclass to raise.
        entries: ``{name: class}``, or ``{name: "package.module"}`` for modules imported when first asked for.
        positional: constructor parameters that are not settings (``in_features`` of an encoder).
    """

    def __init__(
        self,
        kind: str,
        error: type[JetGraphError],
        entries: Mapping[str, Any],
        positional: tuple[str, ...] = (),
    ) -> None:
        self.kind = kind
        self.error = error
        self._entries = dict(entries)
        self._positional = positional

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, name: str) -> Any:
        """The entry called ``name`` (a module path is imported now).

        Raises:
            error: an unknown name, with the nearest known one.
        """
        if not isinstance(name, str) or name not in self._entries:
            known = ", ".join(map(repr, self._entries))
            hint = suggest(str(name), self._entries) or suggest(str(name).lower(), self._entries)
            raise self.error(
                f"unknown {self.kind} {name!r}{hint} (known: {known})"
                if hint
                else f"unknown {self.kind} {name!r}; expected one of {known}"
            )
        entry = self._entries[name]
        return importlib.import_module(entry) if isinstance(entry, str) else entry

    def parameters(self, name: str) -> list[str]:
        """The keyword parameters the class called ``name`` takes, in order."""
        skipped = ("self", *self._positional)
        return [p for p in inspect.signature(self[name].__init__).parameters if p not in skipped]

    def build(self, name: str, /, *args: Any, **params: Any) -> Any:
        """An instance of the class called ``name``, from positional ``args`` and keyword ``params``.

        Raises:
            error: an unknown name or parameter (with the nearest known one and the accepted ones), and
                whatever the class raises for a bad value.
        """
        accepted = self.parameters(name)
        for key in params:
            if key not in accepted:
                takes = f"it takes {', '.join(map(repr, accepted))}" if accepted else "it takes none"
                hint = suggest(str(key), accepted)
                more = f"{hint} ({takes})" if hint else f"; {takes}"
                raise self.error(f"{self.kind} {name!r}: unknown parameter {key!r}{more}")
        return self[name](*args, **params)


__all__ = ["Registry"]
