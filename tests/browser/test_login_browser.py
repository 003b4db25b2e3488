"""A real browser: start `streamlit run`, log in with headless Chromium, reach the Overview."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from engine.access import users as user_store
from tests.conftest import DEMO_PASSWORDS, ROOT

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = ROOT / "tests" / "artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def running_app(tmp_path, workspace):
    auth_file = tmp_path / "auth.yaml"
    user_store.ensure_demo_users(auth_file)
    with workspace.transaction() as con:
        con.execute("INSERT INTO profiles (profile_id) SELECT 'p' || i FROM range(1234) t(i)")
    port = _free_port()
    env = dict(os.environ, CDP_AUTH_FILE=str(auth_file), CDP_WORKSPACE=str(workspace.path),
               CDP_COOKIE_KEY="browser-test-key-" + "y" * 32)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("streamlit did not start")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver")
def test_login_and_reach_overview_in_a_real_browser(running_app):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-sync", "--disable-component-update",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(running_app)
        wait = WebDriverWait(driver, 60)
        username = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "input[aria-label='Username']")))
        username.send_keys("marketer")
        driver.find_element(By.CSS_SELECTOR, "input[aria-label='Password']").send_keys(DEMO_PASSWORDS["marketer"])
        driver.find_element(By.XPATH, "//button[.//p[text()='Login']]").click()
        wait.until(ec.presence_of_element_located((By.XPATH, "//h1[contains(., 'Overview')]")))
        wait.until(ec.presence_of_element_located((By.XPATH, "//*[contains(text(), '1,234')]")))
        assert "Max Marketer" in driver.find_element(By.CSS_SELECTOR, "[data-testid='stSidebar']").text
        # let the run finish so the screenshot shows the settled page, not a rerun in flight
        WebDriverWait(driver, 30).until_not(
            ec.presence_of_element_located((By.CSS_SELECTOR, "[data-testid='stStatusWidget'] button")))
        time.sleep(1)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "overview.png"))
        assert (ARTIFACTS / "overview.png").stat().st_size > 10_000
    finally:
        driver.quit()
