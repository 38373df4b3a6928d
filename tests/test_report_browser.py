"""The report page in a real browser: headless Chromium (Debian's, through its chromedriver,
driven by Selenium) opens it from file://, plays it, and the page moves without errors.

`make browser` installs chromium and chromium-driver; CHROMIUM and CHROMEDRIVER say where
they are when not in /usr/bin.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from typer.testing import CliRunner

from sim.cli import app
from tests.helpers import ROOT

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
# Flags that let Chromium run headless as root in a container, and keep it off the network.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1100,1300",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).is_file():
            pytest.fail(f"{path} is missing: run `make browser` (Debian chromium, chromium-driver)")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _stage(driver: webdriver.Chrome) -> str:
    return driver.find_element(By.CSS_SELECTOR, "svg.stage").get_attribute("outerHTML") or ""


def test_report_plays_in_chromium(browser: webdriver.Chrome, tmp_path: Path) -> None:
    folder = tmp_path / "report"
    scenario = ROOT / "scenarios" / "kafka_consumer_crash.yaml"
    done = CliRunner().invoke(
        app, ["report", str(scenario), "--from", "50s", "--to", "75s", "--out", str(folder)]
    )
    assert done.exit_code == 0, done.output
    browser.get((folder / "index.html").resolve().as_uri())
    clock = browser.find_element(By.ID, "clock")
    assert clock.text == "t = 50.0 s"
    before = _stage(browser)
    bars_before = [
        e.get_attribute("width") for e in browser.find_elements(By.CSS_SELECTOR, ".bar-fill")
    ]
    Select(browser.find_element(By.ID, "speed")).select_by_value("1")  # real time: 25 s to go
    browser.find_element(By.ID, "play").click()
    time.sleep(2.0)
    assert browser.find_element(By.ID, "play").text == "Pause"
    assert clock.text != "t = 50.0 s"
    shown = float(clock.text.removeprefix("t = ").removesuffix(" s"))
    assert 50.0 < shown <= 75.0
    assert _stage(browser) != before
    bars_after = [
        e.get_attribute("width") for e in browser.find_elements(By.CSS_SELECTOR, ".bar-fill")
    ]
    assert bars_after != bars_before  # partition lag bars moved
    dots = browser.find_elements(By.CSS_SELECTOR, "circle.dot[visibility=visible]")
    assert dots, "messages are on their way"
    browser.find_element(By.ID, "play").click()  # pause: the clock stops
    assert browser.find_element(By.ID, "play").text == "Play"
    time.sleep(0.3)
    paused = clock.text
    time.sleep(0.7)
    assert clock.text == paused
    # The scrubber moves every stage and the charts' cursors to the time it shows.
    browser.execute_script(
        "const s = document.getElementById('scrub'); s.value = 62;"
        "s.dispatchEvent(new Event('input'));"
    )
    assert clock.text == "t = 62.0 s"
    cursors = browser.execute_script(
        "return [...document.querySelectorAll('.chart-cursor')]"
        ".filter((c) => c.style.display === 'block').map((c) => parseFloat(c.style.left));"
    )
    assert cursors, "a cursor on the time-series charts"
    assert all(0 < left < 100 for left in cursors)  # inside the charts, at 62 s
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    shot = tmp_path / "report.png"
    browser.save_screenshot(str(shot))
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 10, "the screenshot is blank"
    assert (pixels < 128).mean() > 0.01  # ink: text, nodes, dots
