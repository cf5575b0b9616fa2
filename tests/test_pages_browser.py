"""The pages in a real headless browser (Debian's chromium via Selenium and the system chromedriver): the seed
article is on the Ukraine topic page and opens in the reading view; /docs shows the API's operations with no
network but 127.0.0.1; an unknown topic is a 404 page. Screenshots go to artifacts/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from api.app import create_app
from shared.settings import Settings
from tests.support.api_data import SEED_TITLE, Corpus, publish_corpus
from tests.support.api_server import serve_api

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
