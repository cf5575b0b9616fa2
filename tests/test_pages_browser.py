"""The pages in a real headless browser (Debian's chromium via Selenium and the system chromedriver): the seed
article is on the Ukraine topic page and opens in the reading view; every field of every feed format, rendered
as HTML the way permissive feed readers do, runs nothing and loses no text; /docs shows the API's operations with
no network but 127.0.0.1; an unknown topic is a 404 page. Screenshots go to artifacts/."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from lxml import etree
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from api.app import create_app
from shared.settings import Settings
from tests.support.api_data import (
    ONERROR_AUTHOR,
    ONERROR_PARAGRAPHS,
    ONERROR_SITE,
    ONERROR_TITLE,
    SEED_TITLE,
    Corpus,
    publish_corpus,
    publish_onerror_article,
)
from tests.support.api_server import serve_api
from tests.support.http_server import Response, serve

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = os.environ.get("NEWSMILL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("NEWSMILL_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    # A missing browser is a broken test environment, not a reason to skip: fail and say how to fix it.
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not (Path(binary).is_file() and os.access(binary, os.X_OK)) and not shutil.which(binary):
            pytest.fail(f"{binary} not found: apt-get install -y chromium chromium-driver (`make services` does this)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # No network but 127.0.0.1, as on an air-gapped newsroom network: every other host name fails to resolve,
    # and any other address goes to a proxy on a port where nothing listens.
    offline = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=http://127.0.0.1:9",
               "--proxy-bypass-list=127.0.0.1")  # fmt: skip
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1400", f"--user-data-dir={tmp_path / 'profile'}", *offline):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def corpus(db: psycopg.Connection) -> Corpus:
    return publish_corpus(db)


def test_seed_article_on_the_ukraine_page_opens_in_the_reading_view(
    db_url: str, corpus: Corpus, browser: webdriver.Chrome
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_api(db_url) as base:
        browser.get(f"{base}/")
        browser.find_element(By.LINK_TEXT, "War in Ukraine").click()
        WebDriverWait(browser, 15).until(expected_conditions.title_contains("War in Ukraine"))
        assert browser.current_url == f"{base}/topics/ukraine-war"
        headlines = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "a.headline")]
        assert SEED_TITLE in headlines
        # The hostile article's markup is text on the page, and no script of its ran.
        assert any("<script>alert(1)</script>" in h for h in headlines)
        assert browser.execute_script("return document.scripts.length") == 0
        story = browser.find_element(By.CSS_SELECTOR, f'[data-article-id="{corpus.seed_id}"]')
        assert "Also reported by: La Gazette Syndiquée" in story.text
        browser.save_screenshot(str(ARTIFACTS / "topic-ukraine-war.png"))

        browser.find_element(By.LINK_TEXT, SEED_TITLE).click()
        WebDriverWait(browser, 15).until(expected_conditions.url_to_be(f"{base}/read/{corpus.seed_id}"))
        assert browser.find_element(By.CSS_SELECTOR, "h1.headline").text == SEED_TITLE
        body = browser.find_element(By.CSS_SELECTOR, "article .text").text
        assert "Zelensky" in body
        assert len(browser.find_elements(By.CSS_SELECTOR, "article .text p")) >= 5
        shot = ARTIFACTS / "read-seed-article.png"
        browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000  # a rendered page, not an empty image


Field = tuple[str, str]  # (where in the feed, the value a reader's parser hands it)


def xml_fields(body: bytes) -> list[Field]:
    """Every element's text in an XML feed, as an XML parser gives it to the reader (entities decoded once)."""

    def name(element: etree._Element) -> str:
        qname = etree.QName(element)
        prefix = next((p for p, ns in element.nsmap.items() if p and ns == qname.namespace), None)
        label = f"{prefix}:{qname.localname}" if prefix else qname.localname
        if qname.localname in ("entry", "item"):  # entries are numbered from 1, like XPath
            siblings = [e for e in element.itersiblings(preceding=True) if e.tag == element.tag]
            label += f"[{len(siblings) + 1}]"
        return label

    root = etree.fromstring(body)
    return [
        ("/" + "/".join(name(e) for e in [*reversed(list(element.iterancestors())), element]), element.text)
        for element in root.iter()
        if isinstance(element.tag, str) and element.text and element.text.strip()
    ]


def json_fields(value: Any, where: str = "") -> list[Field]:
    """Every string in a JSON Feed, with its path."""
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, dict):
        return [f for key, item in value.items() for f in json_fields(item, f"{where}/{key}")]
    if isinstance(value, list):
        return [f for i, item in enumerate(value) for f in json_fields(item, f"{where}[{i}]")]
    return []


def reader_page(fields: list[Field]) -> bytes:
    """What a permissive reader does: each field's value pasted into the page as HTML, unescaped. alert() is
    replaced by a recorder, so a handler that fires is counted instead of blocking the page."""
    cells = "".join(f'<div class="field" data-i="{i}">{value}</div>\n' for i, (_, value) in enumerate(fields))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>reader</title>"
        "<script>window.fired = []; window.alert = function (m) { window.fired.push(String(m)); };</script>"
        f"</head><body>{cells}</body></html>"
    ).encode()


# The markup the bodies are allowed to carry: paragraphs and links to http(s) URLs; no handler anywhere.
_UNEXPECTED_ELEMENTS = """
return [...document.querySelectorAll('.field *')].filter(e =>
    !['P', 'A'].includes(e.tagName)
    || [...e.attributes].some(a => a.name.startsWith('on') || (a.name === 'href' && !/^https?:/.test(a.value)))
).map(e => e.outerHTML);
"""


def test_every_field_of_every_format_rendered_as_html_runs_nothing_and_keeps_its_text(
    db_url: str, db: psycopg.Connection, corpus: Corpus, browser: webdriver.Chrome
) -> None:
    publish_onerror_article(db)
    text = "\n".join(ONERROR_PARAGRAPHS)
    with serve_api(db_url) as base, httpx.Client(base_url=base, timeout=30) as api:
        bodies = {fmt: api.get(f"/topics/ukraine-war.{fmt}").content for fmt in ("atom", "rss", "json")}
    fields = {
        "atom": xml_fields(bodies["atom"]),
        "rss": xml_fields(bodies["rss"]),
        "json": json_fields(json.loads(bodies["json"])),
    }
    # The hostile entry's fields and what a reader must show for each: the stored text, all of it.
    hostile = {
        "atom": {"/feed/entry[{n}]/title": ONERROR_TITLE, "/feed/entry[{n}]/author/name": ONERROR_AUTHOR,
                 "/feed/entry[{n}]/dc:creator": ONERROR_AUTHOR, "/feed/entry[{n}]/dc:publisher": ONERROR_SITE,
                 "/feed/entry[{n}]/summary": ONERROR_PARAGRAPHS[0], "/feed/entry[{n}]/content": text},
        "rss": {"/rss/channel/item[{n}]/title": ONERROR_TITLE, "/rss/channel/item[{n}]/dc:creator": ONERROR_AUTHOR,
                "/rss/channel/item[{n}]/dc:publisher": ONERROR_SITE,
                "/rss/channel/item[{n}]/description": ONERROR_PARAGRAPHS[0],
                "/rss/channel/item[{n}]/content:encoded": text},
        "json": {"/items[{i}]/title": ONERROR_TITLE, "/items[{i}]/authors[0]/name": ONERROR_AUTHOR,
                 "/items[{i}]/_newsmill/site": ONERROR_SITE, "/items[{i}]/summary": ONERROR_PARAGRAPHS[0],
                 "/items[{i}]/content_text": text, "/items[{i}]/content_html": text},
    }  # fmt: skip
    with serve() as site:
        for fmt, found in fields.items():
            position = next(n for n, (path, value) in enumerate(found) if value == "https://onerror.example/war")
            entry_path = found[position][0].rsplit("/", 1)[0]  # the entry whose id is the hostile article's
            index = entry_path.rsplit("[", 1)[1].rstrip("]")  # its number (XML) or index (JSON)
            expected = {path.format(n=index, i=index): want for path, want in hostile[fmt].items()}
            assert expected.keys() <= {p for p, _ in found}, f"{fmt}: fields missing from the entry"
            browser.get(site.add(f"/{fmt}.html", Response(reader_page(found), 200, {"Content-Type": "text/html"})))
            WebDriverWait(browser, 15).until(lambda b: b.execute_script("return document.readyState") == "complete")
            time.sleep(0.5)  # an <img src=x onerror> fires once its request fails: give it the time
            assert browser.execute_script("return window.fired") == [], f"{fmt}: a field ran script"
            assert browser.execute_script("return document.scripts.length") == 1, f"{fmt}: only the recorder"
            assert browser.execute_script(_UNEXPECTED_ELEMENTS) == [], f"{fmt}: markup came alive"
            shown = browser.execute_script("return [...document.querySelectorAll('.field')].map(e => e.textContent)")
            by_path = {path: shown[i] for i, (path, _) in enumerate(found)}
            for path, want in expected.items():
                got = by_path[path]
                if path.endswith(("content", "encoded", "content_html")):
                    assert all(p in got for p in ONERROR_PARAGRAPHS), f"{fmt} {path}: text lost: {got!r}"
                else:
                    assert got == want, f"{fmt} {path}: {got!r} != {want!r}"
        browser.save_screenshot(str(ARTIFACTS / "feed-fields-as-html.png"))


def test_api_docs_show_every_operation_with_no_network(db_url: str, browser: webdriver.Chrome) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_api(db_url) as base:
        browser.get(f"{base}/")
        browser.find_element(By.LINK_TEXT, "API").click()  # the pages' navigation link
        WebDriverWait(browser, 30).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".opblock-summary-path"))
        )
        shown = {e.get_attribute("data-path") for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        documented = set(create_app(Settings(database_url=db_url)).openapi()["paths"])
        assert shown == documented
        assert {"/articles", "/topics/{slug}"} <= shown
        # Everything the page loaded came from the API itself.
        loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded
        assert all(url.startswith(base + "/") for url in loaded), loaded
        browser.save_screenshot(str(ARTIFACTS / "api-docs.png"))

        browser.get(f"{base}/topics/nonexistent")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Not found"
        assert "/topics/nonexistent" in browser.find_element(By.CSS_SELECTOR, ".not-found").text
