"""The language stage: table of languages, 'und' where the text cannot tell, hints, determinism, no crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.languages import normalise_language
from workers.stages import language
from workers.stages.language import LanguageResult, detect_language

REPO = Path(__file__).resolve().parents[1]

PARAGRAPHS = {
    "en": "The library reopened on Monday after a year of repairs to its roof. Readers queued at the door before "
    "the staff had even turned on the lights.",
    "fr": "La bibliothèque a rouvert lundi après un an de travaux sur sa toiture. Les lecteurs faisaient la queue "
    "devant la porte avant même que le personnel allume les lumières.",
    "de": "Die Bibliothek hat am Montag nach einem Jahr Dachsanierung wieder geöffnet. Die Leser standen schon vor "
    "der Tür, bevor das Personal überhaupt das Licht eingeschaltet hatte.",
    "es": "La biblioteca volvió a abrir el lunes tras un año de obras en el tejado. Los lectores hacían cola en la "
    "puerta antes de que el personal encendiera las luces.",
    "it": "La biblioteca ha riaperto lunedì dopo un anno di lavori sul tetto. I lettori erano in fila davanti alla "
    "porta prima ancora che il personale accendesse le luci.",
    "pt": "A biblioteca reabriu na segunda-feira depois de um ano de obras no telhado. Os leitores faziam fila à "
    "porta antes de os funcionários acenderem as luzes.",
    "nl": "De bibliotheek is maandag na een jaar van werkzaamheden aan het dak weer opengegaan. Lezers stonden al "
    "in de rij voordat het personeel de lichten had aangedaan.",
    "sv": "Biblioteket öppnade igen på måndagen efter ett års renovering av taket. Läsarna köade utanför dörren "
    "innan personalen ens hade tänt lamporna.",
    "pl": "Biblioteka została ponownie otwarta w poniedziałek po roku remontu dachu. Czytelnicy stali w kolejce "
    "przed drzwiami, zanim pracownicy zdążyli zapalić światło.",
    "cs": "Knihovna se v pondělí znovu otevřela po roce oprav střechy. Čtenáři stáli ve frontě přede dveřmi ještě "
    "předtím, než zaměstnanci rozsvítili světla.",
    "tr": "Kütüphane, çatısındaki bir yıllık onarımın ardından pazartesi günü yeniden açıldı. Okurlar, "
    "görevliler ışıkları yakmadan önce kapıda sıraya girmişti.",
    "fi": "Kirjasto avattiin maanantaina uudelleen vuoden kestäneen kattoremontin jälkeen. Lukijat jonottivat "
    "ovella jo ennen kuin henkilökunta oli sytyttänyt valot.",
    "ru": "Библиотека снова открылась в понедельник после годового ремонта крыши. Читатели выстроились в очередь у "
    "дверей ещё до того, как сотрудники включили свет.",
    "uk": "Бібліотека знову відкрилася в понеділок після річного ремонту даху. Читачі стояли в черзі біля дверей "
    "ще до того, як працівники ввімкнули світло.",
    "el": "Η βιβλιοθήκη άνοιξε ξανά τη Δευτέρα μετά από έναν χρόνο εργασιών στη στέγη. Οι αναγνώστες περίμεναν "
    "στην πόρτα πριν καν ανάψει το προσωπικό τα φώτα.",
    "ar": "أعيد افتتاح المكتبة يوم الاثنين بعد عام من أعمال إصلاح السقف. واصطف القراء أمام الباب قبل أن يشعل "
    "الموظفون الأضواء.",
    "he": "הספרייה נפתחה מחדש ביום שני לאחר שנה של שיפוץ הגג. הקוראים עמדו בתור ליד הדלת עוד לפני שהצוות הדליק "
    "את האורות.",
    "hi": "छत की एक साल की मरम्मत के बाद पुस्तकालय सोमवार को फिर से खुल गया। कर्मचारियों के बत्तियाँ जलाने से "
    "पहले ही पाठक दरवाज़े पर कतार में खड़े थे।",
    "zh": "图书馆在屋顶维修了一年之后于周一重新开放。工作人员还没开灯，读者就已经在门口排起了长队。",
    "ja": "図書館は屋根の改修工事を終え、月曜日に一年ぶりに再開した。"
    "職員が明かりをつける前から、読者が入り口に列を作っていた。",
    "ko": "도서관이 일 년 동안의 지붕 공사를 마치고 월요일에 다시 문을 열었다. "
    "직원들이 불을 켜기도 전에 독자들이 입구에 줄을 섰다.",
    "vi": "Thư viện đã mở cửa trở lại vào thứ Hai sau một năm sửa chữa mái nhà. Độc giả xếp hàng trước cửa ngay cả "
    "trước khi nhân viên bật đèn.",
}  # fmt: skip


@pytest.mark.parametrize(("expected", "text"), sorted(PARAGRAPHS.items()))
def test_short_paragraphs_in_many_languages(expected: str, text: str) -> None:
    result = detect_language(text)
    assert result.language == expected
    assert result.source == "text"
    assert result.probability >= 0.8


# One sentence each, from the UDHR (bench/data/udhr.json): short, but in one script and long enough to decide.
ONE_SENTENCE = [
    ("ru", "Каждый человек имеет право на образование."), ("ar", "لكل شخص الحق في حرية الرأي والتعبير."),
    ("bg", "Всеки човек има право на гражданство."), ("af", "Elkeen het die reg tot burgerskap."),
    ("cs", "Každý má právo na státní příslušnost."), ("ca", "Tota persona té dret a una nacionalitat."),
    ("hi", "प्रत्येक व्यक्ति को शिक्षा का अधिकार है।"), ("nl", "Een ieder heeft recht op onderwijs."),
]  # fmt: skip


@pytest.mark.parametrize(("expected", "text"), ONE_SENTENCE)
def test_one_sentence_is_enough_evidence(expected: str, text: str) -> None:
    assert detect_language(text).language == expected


@pytest.mark.parametrize(
    "text", ["Donald Trump", "Breaking News", "Samsung Galaxy S24", "Moskau, Berlin", "Ok. 12:30. Photo: AFP. Ok."]
)
def test_a_word_or_two_is_not(text: str) -> None:
    assert detect_language(text) == LanguageResult("und", 0.0, "none")


@pytest.mark.parametrize(
    "text",
    ["", "   \n\t ", "12345 678,90 2024-05-01", "https://example.com/news/2024/05/a-story?id=7", "info@example.com",
     "www.example.org/path", "Hello there", "@newsmill #breaking $ACME", "😀 😀 ✔ — … ★", "---- **** ////", "一二"],
)  # fmt: skip
def test_text_without_enough_language_is_undetermined(text: str) -> None:
    assert detect_language(text) == LanguageResult("und", 0.0, "none")


def test_noise_is_stripped_before_detection() -> None:
    text = PARAGRAPHS["de"] + " https://example.com/en/the-english-words-in-this-url 0049 30 1234567 x@example.com"
    assert detect_language(text).language == "de"


def test_noise_inside_text_without_spaces_takes_only_itself() -> None:
    text = (
        "据新华社2024年5月1日报道，详情见https://example.com/a?b=1或发邮件至info@example.com，市政府宣布扩建地铁网络。"
    )
    assert detect_language(text).language == "zh"
    assert detect_language("2024年5月1日、東京都は新しい条例を発表した。詳しくはwww.example.jpまで。").language == "ja"


def test_a_russian_sentence_with_latin_brand_names_is_russian() -> None:
    for text in (
        "Samsung Galaxy и Apple iPhone подорожали на треть в магазинах",  # raw langdetect: ru 0.86 / bg
        "Xiaomi Redmi Note и Samsung Galaxy A55 подорожали в магазинах",  # raw langdetect: bg / et
        "Volkswagen Golf GTI и Toyota Corolla Hybrid сравнили на трассе под Москвой",  # raw langdetect: bg
    ):
        assert detect_language(text).language == "ru", text


def test_script_decides_cjk_and_names_inside_it_do_not_matter() -> None:
    assert detect_language("Appleは新型iPhoneを来月から日本で販売すると発表した。").language == "ja"
    assert detect_language("苹果公司周二宣布新款iPhone将于下个月在中国上市销售。").language == "zh"
    assert detect_language("삼성전자는 새 Galaxy 스마트폰을 다음 달부터 판매한다고 밝혔다.").language == "ko"


def test_hint_decides_when_the_text_is_too_short() -> None:
    assert detect_language("Hello", page_hint="en-GB") == LanguageResult("en", 0.5, "page")
    assert detect_language("", feed_hint="de_DE") == LanguageResult("de", 0.5, "feed")
    assert detect_language("Hallo", page_hint="de", feed_hint="en").source == "page"  # the page is about this text
    assert detect_language("Привет всем", page_hint="en") == LanguageResult("und", 0.0, "none")  # wrong script
    assert detect_language("Привет всем", page_hint="en", feed_hint="ru").language == "ru"
    assert detect_language("Hello", page_hint="x-default", feed_hint="xx").language == "und"  # junk hints
    assert detect_language("Hello", page_hint="x-default", feed_hint="English").language == "en"  # a name is a tag


def test_confident_text_beats_a_hint() -> None:
    assert detect_language(PARAGRAPHS["en"], page_hint="de", feed_hint="fr") == detect_language(PARAGRAPHS["en"])


def test_unsure_text_takes_the_hint_that_agrees_with_a_candidate() -> None:
    text = "Kommunen fastfryser priserne på buskort nu"  # da 0.72 / no 0.28 to langdetect
    alone = detect_language(text)
    assert alone.source == "text"
    assert alone.probability < language.CONFIDENT
    hinted = detect_language(text, feed_hint="nb-NO")
    assert (hinted.language, hinted.source) == ("no", "feed")
    assert 0.0 < hinted.probability < 0.5
    assert detect_language(text, page_hint="fi") == alone  # a hint the text gives no support to changes nothing


def test_only_the_prefix_is_read() -> None:
    text = PARAGRAPHS["en"] + " " + PARAGRAPHS["de"] * 200
    assert detect_language(text, prefix_chars=len(PARAGRAPHS["en"])).language == "en"
    assert detect_language(text).language == "de"


def test_langdetect_failure_is_undetermined(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(script: str) -> object:
        raise RuntimeError("profiles missing")

    monkeypatch.setattr(language, "_factory", broken)
    assert detect_language(PARAGRAPHS["en"]) == LanguageResult("und", 0.0, "none")
    assert detect_language(PARAGRAPHS["en"], page_hint="en").source == "page"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("fr-FR", "fr"), ("fr_FR", "fr"), ("FR", "fr"), (" en-us ", "en"), ("zh-Hant-TW", "zh"), ("nb", "no"),
     ("nn-NO", "no"), ("iw", "he"), ("in", "id"), (None, None), ("", None), ("x-default", None), ("English", "en"),
     ("xx", None), ("und", None), ("123", None), ("fra", "fr"), ("nb-NO", "no"), ("Français", "fr"), ("fil", "tl")],
)  # fmt: skip
def test_normalise_language_tag(tag: str | None, expected: str | None) -> None:
    assert normalise_language(tag) == expected


DETERMINISM_TEXTS = [
    *PARAGRAPHS.values(),
    "Kommunen fastfryser priserne på buskort nu",
    "Det er en god dag for byen",
    "Samsung Galaxy и Apple iPhone подорожали на треть в магазинах",
    "Bom dia a todos os que chegam hoje",
    "Dobrý den, jak se máte dnes ráno?",
]
_SCRIPT = (
    "import json, sys\n"
    "from workers.stages.language import detect_language\n"
    "texts = json.load(sys.stdin)\n"
    "print(json.dumps([list(detect_language(t).__dict__.values()) for t in texts]))\n"
)


def _answers_in_fresh_process(hash_seed: str) -> list[list[object]]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], input=json.dumps(DETERMINISM_TEXTS), capture_output=True, text=True,
        cwd=REPO, env=env, check=True, timeout=120,
    )  # fmt: skip
    return json.loads(done.stdout)


def test_same_answer_on_every_call_and_in_every_process() -> None:
    here = [[r.language, r.probability, r.source] for r in map(detect_language, DETERMINISM_TEXTS)]
    for _ in range(5):
        assert [[r.language, r.probability, r.source] for r in map(detect_language, DETERMINISM_TEXTS)] == here
    assert _answers_in_fresh_process("1") == here
    assert _answers_in_fresh_process("2") == here


_WORDS = st.sampled_from(
    ["Apple", "iPhone", "подорожали", "в", "the", "и", "東京", "は", "서울", "Ελλάδα", "שלום", "مرحبا", "नमस्ते",
     "2024", "https://x.io/a", "a@b.co", "😀", "ß", "Ǆ", "\u0301", "\x00", "\ud7ff", "ก", "Հայաստան"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(st.text(), st.lists(_WORDS, max_size=40).map(" ".join)),
    page=st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["en", "ru-RU", "zh_TW", "nb"])),
    feed=st.one_of(st.none(), st.text(max_size=12)),
    prefix=st.integers(min_value=1, max_value=3000),
    min_chars=st.integers(min_value=1, max_value=200),
)
def test_no_exception_escapes_and_the_result_is_well_formed(
    text: str, page: str | None, feed: str | None, prefix: int, min_chars: int
) -> None:
    result = detect_language(text, page_hint=page, feed_hint=feed, prefix_chars=prefix, min_chars=min_chars)
    assert 0.0 <= result.probability <= 1.0
    if result.language == "und":
        assert (result.probability, result.source) == (0.0, "none")
    else:
        assert normalise_language(result.language) == result.language
        assert result.probability > 0.0
        assert result.source in ("text", "page", "feed")


def test_a_headline_in_capitals_is_still_read() -> None:
    assert detect_language("BREAKING: CITY COUNCIL FREEZES ALL BUS AND TRAM FARES UNTIL THE SPRING").language == "en"


def _denoised_in_one_pass(text: str, prefix_chars: int) -> str:
    """The definition: noise tokens substituted in the whole slice at once, then the prefix cut."""
    return language._NOISE.sub(" ", unicodedata.normalize("NFC", text[: prefix_chars * 4]))[:prefix_chars]


_NOISY = st.lists(
    st.sampled_from([*"ab \u00e91 2\n.:/@#$-_%+wW", "www.", "http://", ".org", ".com", "\u212a", "e\u0301"]),
    max_size=150,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=_NOISY, prefix_chars=st.integers(min_value=1, max_value=60))
def test_the_prefix_is_denoised_chunk_by_chunk_as_in_one_pass(text: str, prefix_chars: int) -> None:
    assert language._denoised_prefix(text, prefix_chars) == _denoised_in_one_pass(text, prefix_chars)


@pytest.mark.parametrize("prefix_chars", [20, 600])
def test_long_noisy_articles_are_denoised_as_in_one_pass(prefix_chars: int) -> None:
    article = " ".join(
        f"Le {n} mai, https://ex.org/a{n}?b=1 ou www.site{n}.fr a écrit à info{n}@x.com: 12,5% (+3) #tag{n} suite"
        for n in range(200)
    )
    unbroken = "x1" * 3000  # no whitespace to cut at: one chunk
    for text in (article, unbroken, article.replace(" ", "\n"), PARAGRAPHS["fr"] * 5):
        assert language._denoised_prefix(text, prefix_chars) == _denoised_in_one_pass(text, prefix_chars)
