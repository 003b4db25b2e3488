"""A real browser: start `streamlit run server.py`, log in with headless Chromium, reach the Overview;
the login cookie is HttpOnly and SameSite=Strict, survives a reload, and neither a cookie forged
with the example key nor the old cookie after logout logs anyone in."""
from __future__ import annotations

import secrets
import time

import pytest

from engine.access import users as user_store
from engine.access.cookie_key import example_key
from engine.access.sessions import issue_token
from tests.browser.app_server import CHROMEDRIVER, CHROMIUM, chromium, click, stable_wait, streamlit_server
from tests.conftest import DEMO_PASSWORDS, ROOT

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "tests" / "artifacts"
KEY = secrets.token_urlsafe(48)


@pytest.fixture
def running_app(tmp_path, workspace):
    auth_file = tmp_path / "auth.yaml"
    user_store.ensure_demo_users(auth_file)
    with workspace.transaction() as con:
        con.execute("INSERT INTO profiles (profile_id) SELECT 'p' || i FROM range(1234) t(i)")
    env = dict(CDP_AUTH_FILE=str(auth_file), CDP_WORKSPACE=str(workspace.path), CDP_COOKIE_KEY=KEY)
    with streamlit_server(env) as url:
        yield url, workspace


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver")
def test_login_and_reach_overview_in_a_real_browser(running_app):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, workspace = running_app
    driver = chromium()
    login_form = (By.CSS_SELECTOR, "input[aria-label='Username']")
    overview = (By.XPATH, "//h1[contains(., 'Overview')]")

    def reload_with(cookie_value=None):
        if cookie_value is not None:
            driver.delete_cookie("cdp_session")
            driver.add_cookie({"name": "cdp_session", "value": cookie_value, "path": "/"})
        driver.get(url)

    try:
        driver.get(url)
        wait = stable_wait(driver, 60)
        wait.until(ec.presence_of_element_located(login_form))
        forged = issue_token("admin", "", example_key())       # what an attacker with the example key makes
        reload_with(forged)
        username = wait.until(ec.presence_of_element_located(login_form))
        assert not driver.find_elements(*overview)
        username.send_keys("marketer")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "input[aria-label='Password']"))).send_keys(
            DEMO_PASSWORDS["marketer"])
        click(wait, (By.XPATH, "//button[.//p[text()='Login']]"))
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
        click(wait, (By.XPATH, "//button[.//p[text()='Log out']]"))
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
