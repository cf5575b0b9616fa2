"""trafilatura's tree preparation without the unread backup copy: installed for the pinned trafilatura, the same
texts as trafilatura's own in fast mode, trafilatura's own function in every other mode."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from trafilatura import bare_extraction, core
from trafilatura.settings import Extractor

from workers.stages import trafilatura_backup
from workers.stages.html_tree import parse_page
from workers.stages.trafilatura_backup import without_unread_backup

from .test_trafilatura_selectors import SAVED_PAGES


def test_installed_for_the_trafilatura_this_project_pins() -> None:
    # Fails when trafilatura's functions that make or read the backup change: read them again, then update
    # _EXPECTED_SOURCE (the module docstring says what must still hold).
    assert trafilatura_backup.REPLACED


@pytest.mark.parametrize("page", SAVED_PAGES, ids=lambda p: p.name)
@pytest.mark.parametrize("fast", [True, False])
def test_the_same_text_as_trafilaturas_own(page: Path, fast: bool) -> None:
    html = page.read_text(encoding="utf-8", errors="replace")
    texts = []
    for stand_in in (False, True):
        tree = parse_page(html)
        with without_unread_backup() if stand_in else contextlib.nullcontext():
            document = bare_extraction(tree, url="https://example.org/a", fast=fast, include_comments=False)
        texts.append(getattr(document, "text", None))
    assert texts[0] == texts[1]


def test_fast_without_comments_skips_the_copy_and_other_modes_keep_it() -> None:
    tree = parse_page(
        "<html><body><article><p>" + "Le conseil a voté le budget. " * 20 + "</p></article></body></html>"
    )
    assert tree is not None
    with without_unread_backup():
        assert core._prepare_tree is not trafilatura_backup._original
        cleaned, backup = core._prepare_tree(tree, Extractor(fast=True, comments=False), None)
        assert backup is cleaned  # no copy made
        for options in (Extractor(fast=False, comments=False), Extractor(fast=True, comments=True)):
            cleaned, backup = core._prepare_tree(tree, options, None)
            assert backup is not cleaned  # trafilatura's own copy
    assert core._prepare_tree is trafilatura_backup._original
