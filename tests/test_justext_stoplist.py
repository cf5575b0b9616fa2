"""jusText's stop-word set found by identity: the same set as jusText makes, and jusText's own function otherwise."""

from __future__ import annotations

import justext.core
import pytest
from justext.core import ParagraphMaker, classify_paragraphs
from lxml.html import fromstring
from trafilatura import external

from workers.stages import justext_stoplist
from workers.stages.justext_stoplist import stoplist_kept

PAGE = fromstring(
    "<html><body><div><p>Le conseil municipal a voté le budget de la ville pour l'année prochaine, après un long "
    "débat sur les écoles et les routes de la commune.</p><p>Accueil | Contact | Mentions légales</p>"
    "<p>The council voted on the budget for the coming year after a long debate about schools and roads.</p>"
    "</div></body></html>"
)


def _classes(stoplist: object) -> list[tuple[str, str]]:
    paragraphs = ParagraphMaker.make_paragraphs(PAGE)
    classify_paragraphs(paragraphs, stoplist, 50, 150, 0.1, 0.2, 0.25, True)
    return [(p.text, p.cf_class) for p in paragraphs]


def test_the_kept_set_is_jusTexts_set_and_classifies_alike() -> None:
    union = external.JT_STOPLIST or external.jt_stoplist_init()
    expected = _classes(union)
    with stoplist_kept():
        first = justext.core.define_stoplist(union)
        assert _classes(union) == expected
    assert first == justext_stoplist._define_stoplist(union)


def test_other_stop_lists_go_to_jusTexts_own_function() -> None:
    with stoplist_kept():
        assert justext.core.define_stoplist(("Le", "la", "THE")) == frozenset({"le", "la", "the"})
        assert justext.core.define_stoplist(("Des",)) == frozenset({"des"})
        with pytest.raises(TypeError, match="unhashable"):  # as jusText's lru_cache does with a list
            justext.core.define_stoplist(["Le"])


def test_jusText_is_itself_again_outside_the_scope() -> None:
    with stoplist_kept():
        assert justext.core.define_stoplist is not justext_stoplist._define_stoplist
    assert justext.core.define_stoplist is justext_stoplist._define_stoplist


def test_the_same_stop_list_again_does_not_reach_jusText(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counted(stoplist: tuple[str, ...]) -> frozenset[str]:
        calls.append(len(stoplist))
        return frozenset(stoplist)

    monkeypatch.setattr(justext_stoplist, "_define_stoplist", counted)
    monkeypatch.setattr(justext_stoplist, "_last", None)
    union = ("le", "la", "the")
    assert justext_stoplist._define_stoplist_once(union) is justext_stoplist._define_stoplist_once(union)
    assert justext_stoplist._define_stoplist_once(("des",)) == frozenset({"des"})
    assert calls == [3, 1]  # the tuple's set made once; a new tuple made anew
