"""Files users hand the CLI, read with limits: a size cap, and YAML without aliases.

A 50 MB file given to `extract` took 23 s, a 1.1 GB one all the memory; a 523-byte YAML "billion laughs"
(aliases of aliases) cost `topics load` a minute and a gigabyte before its error. Both are refused at once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.errors import CommandError
from shared.settings import get_settings

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


@dataclass(frozen=True)
class Source:
    """A page a command was given: fetched from a URL, or read from a file (``path``; its URL is file://…)."""

    body: bytes
    content_type: str | None
    url: str
    path: Path | None = None


def read_source(source: str, *, html_only: bool) -> Source:
    """A URL fetched with our HTTP client (refused unless HTML when ``html_only``), or a file read with the same
    size cap as a fetched page (a 1 GB file took all the memory); CommandError when it is neither."""
    if source.startswith(("http://", "https://")):
        from shared.http_client import FetchPolicy, check_content_type, fetch  # noqa: PLC0415 - only when fetching

        result = fetch(source, FetchPolicy.from_settings(get_settings()))
        if html_only:
            check_content_type(result, "html")
        return Source(result.body, result.headers.get("content-type"), result.url)
    path = Path(source)
    if not path.is_file():
        raise CommandError(f"not a URL nor a readable file: {source}")
    try:
        body = read_capped(path, get_settings().max_response_bytes)
    except InputTooLargeError as exc:
        raise CommandError(str(exc)) from exc
    return Source(body, None, path.resolve().as_uri(), path)


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
