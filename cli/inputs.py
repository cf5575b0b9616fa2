"""Files users hand the CLI, read with limits: a size cap, and YAML without aliases.

A 50 MB file given to `extract` took 23 s, a 1.1 GB one all the memory; a 523-byte YAML "billion laughs"
(aliases of aliases) cost `topics load` a minute and a gigabyte before its error. Both are refused at once.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import yaml


class InputTooLargeError(ValueError):
    """A file over the size cap; the message names the cap's setting."""


def read_capped(path: Path, limit: int, setting: str = "NEWSMILL_MAX_RESPONSE_BYTES") -> bytes:
    """The bytes of ``path``, refused past ``limit`` bytes (read no further than that, whatever the file
    claims: /proc files and growing logs report sizes that are not what they hold)."""
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputTooLargeError(f"{path} is larger than {limit:,} bytes (the limit, {setting}; raise it to read it)")
    return data


@functools.cache
def _no_alias_loader() -> type[yaml.SafeLoader]:
    """PyYAML's safe loader, refusing every alias (``*name``): anchors and aliases are how a few hundred
    bytes expand to gigabytes, and no topics file needs them. (The C loader composes nodes in C, where no
    hook can refuse an alias before it is expanded; topics files are small enough for the Python one.)"""
    import yaml  # noqa: PLC0415 - only the commands that read YAML pay for it

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, f"YAML aliases (*{event.anchor}) are not allowed in this file", event.start_mark
                )
            return super().compose_node(parent, index)

    return NoAliasLoader


class YamlAliasError(ValueError):
    """The file uses a YAML alias, which topics files may not (it is not a syntax error)."""


def load_yaml(text: str) -> Any:
    """One YAML document, as ``yaml.safe_load`` would read it, except that an alias raises YamlAliasError;
    a syntax error raises yaml.YAMLError."""
    import yaml  # noqa: PLC0415

    try:
        return yaml.load(text, Loader=_no_alias_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.composer.ComposerError as exc:
        if "aliases" not in str(getattr(exc, "problem", "")):
            raise
        raise YamlAliasError(yaml_error_line(exc)) from exc


def yaml_error_line(exc: Exception) -> str:
    """A YAML error in one line, with its position when PyYAML knows it."""
    problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)
    if problem is None or mark is None:
        return " ".join(str(exc).split())
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
