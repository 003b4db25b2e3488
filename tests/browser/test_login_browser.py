"""A real browser: start `streamlit run server.py`, log in with headless Chromium, reach the Overview;
the login cookie is HttpOnly and SameSite=Strict, survives a reload, and neither a cookie forged
with the example key nor the old cookie after logout logs anyone in."""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from engine.access import users as user_store
from engine.access.cookie_key import example_key
from engine.access.sessions import issue_token
from tests.conftest import DEMO_PASSWORDS, ROOT

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = ROOT / "tests" / "artifacts"
KEY = secrets.token_urlsafe(48)


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
               CDP_COOKIE_KEY=KEY)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "server.py", "--server.port", str(port),
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
        yield url, workspace
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
    url, workspace = running_app
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    login_form = (By.CSS_SELECTOR, "input[aria-label='Username']")
    overview = (By.XPATH, "//h1[contains(., 'Overview')]")

    def reload_with(cookie_value=None):
        if cookie_value is not None:
            driver.delete_cookie("cdp_session")
            driver.add_cookie({"name": "cdp_session", "value": cookie_value, "path": "/"})
        driver.get(url)

    try:
        driver.get(url)
        wait = WebDriverWait(driver, 60)
        wait.until(ec.presence_of_element_located(login_form))
        forged = issue_token("admin", "", example_key())       # what an attacker with the example key makes
        reload_with(forged)
        username = wait.until(ec.presence_of_element_located(login_form))
        assert not driver.find_elements(*overview)
        username.send_keys("marketer")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "input[aria-label='Password']"))).send_keys(
            DEMO_PASSWORDS["marketer"])
        wait.until(ec.element_to_be_clickable((By.XPATH, "//button[.//p[text()='Login']]"))).click()
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

        # the cookie came from the server: HttpOnly, SameSite=Strict, invisible to page scripts
        cookie = WebDriverWait(driver, 30).until(lambda d: d.get_cookie("cdp_session"))
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict", cookie
        assert "cdp_session" not in driver.execute_script("return document.cookie")
        token = cookie["value"]
        driver.get(url)                                        # a reload stays logged in
        wait.until(ec.presence_of_element_located(overview))
        driver.find_element(By.XPATH, "//button[.//p[text()='Log out']]").click()
        wait.until(ec.presence_of_element_located(login_form))
        WebDriverWait(driver, 30).until(lambda d: d.get_cookie("cdp_session") is None)   # cleared by the server
        reload_with(token)                                     # the old cookie after logout
        wait.until(ec.presence_of_element_located(login_form))
        time.sleep(2)
        assert not driver.find_elements(*overview)
        reasons = [r[0] for r in workspace.query_rows(
            "SELECT details->>'reason' FROM audit_log WHERE action = 'login.failed' ORDER BY id")]
        assert reasons == ["cookie bad signature", "cookie ended"], reasons
    finally:
        driver.quit()
