"""Single sign-on in a real browser against a local OIDC provider: a person the CDP does not know
is refused with what to ask for; with a role claim they are added and reach the Overview with
that role; logging out forgets Streamlit's identity cookie so the login screen comes back."""
from __future__ import annotations

import secrets
import time

import pytest

from engine.access import users as user_store
from tests.browser.app_server import (CHROMEDRIVER, CHROMIUM, chromium, click, free_port, stable_wait,
                                      streamlit_server)
from tests.browser.oidc_provider import OidcProvider

pytestmark = pytest.mark.browser


@pytest.fixture
def sso_app(tmp_path, workspace):
    auth_file = tmp_path / "auth.yaml"
    user_store.ensure_demo_users(auth_file)
    port = free_port()
    provider = OidcProvider("cdp-app", secrets.token_urlsafe(24), f"http://127.0.0.1:{port}/oauth2callback")
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(
        f'[auth]\nredirect_uri = "{provider.redirect_uri}"\ncookie_secret = "{secrets.token_urlsafe(32)}"\n'
        f'[auth.sso]\nclient_id = "{provider.client_id}"\nclient_secret = "{provider.client_secret}"\n'
        f'server_metadata_url = "{provider.metadata_url}"\n')
    env = dict(CDP_AUTH_FILE=str(auth_file), CDP_WORKSPACE=str(workspace.path),
               CDP_COOKIE_KEY=secrets.token_urlsafe(48), CDP_SSO_ROLE_CLAIM="cdp_role",
               CDP_SSO_LABEL="Log in with Acme SSO")
    try:
        with streamlit_server(env, port, ("--secrets.files", str(secrets_file))) as url:
            yield url, provider, auth_file, workspace
    finally:
        provider.close()


def identity_cookie_gone(driver) -> bool:
    """Streamlit's identity cookie (HttpOnly, so only WebDriver sees it) is no longer in the browser."""
    return not any(c["name"] == "_streamlit_user" for c in driver.get_cookies())


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver")
def test_single_sign_on_refuses_strangers_and_adds_people_the_role_claim_names(sso_app):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    url, provider, auth_file, workspace = sso_app
    sso_button = (By.XPATH, "//button[.//p[text()='Log in with Acme SSO']]")
    driver = chromium()
    wait = stable_wait(driver, 120)   # the bench smoke may hold both cores meanwhile
    try:
        provider.user = {"email": "stranger@acme.example", "email_verified": True, "name": "Sam Stranger"}
        driver.get(url)
        click(wait, sso_button)
        wait.until(ec.presence_of_element_located((By.XPATH, "//*[contains(., 'has no account in this CDP')]")))
        assert not driver.find_elements(By.XPATH, "//h1[contains(., 'Overview')]")
        assert user_store.get_entry("stranger", auth_file) is None

        click(wait, (By.XPATH, "//button[.//p[text()='Use another single sign-on account']]"))
        provider.user = {"email": "Rita@Acme.example", "email_verified": True, "name": "Rita Reyes",
                         "cdp_role": "marketer"}
        # the refusal page goes first (its log-out redirect): a click on the page being left is lost
        wait.until(lambda d: not d.find_elements(By.XPATH, "//*[contains(., 'has no account in this CDP')]"))
        wait.until(identity_cookie_gone)
        click(wait, sso_button)
        wait.until(ec.presence_of_element_located((By.XPATH, "//h1[contains(., 'Overview')]")))
        wait.until(lambda d: "Rita Reyes" in d.find_element(By.CSS_SELECTOR, "[data-testid='stSidebar']").text
                   and "marketer" in d.find_element(By.CSS_SELECTOR, "[data-testid='stSidebar']").text)
        assert not identity_cookie_gone(driver)
        entry = user_store.get_entry("rita", auth_file)
        assert entry["email"] == "rita@acme.example" and entry["roles"] == ["marketer"] and "password" not in entry
        logins = workspace.query_rows(
            "SELECT action, target, details->>'via', details->>'reason' FROM audit_log "
            "WHERE action LIKE 'login%' ORDER BY id")
        # (a slow machine may run the page twice before the session holds the user: two logins)
        assert logins[0] == ("login.failed", "stranger@acme.example", "sso", "sso unknown user"), logins
        assert logins[1:] and set(logins[1:]) == {("login", "rita", "sso", None)}, logins

        signed_in = [c for c in driver.get_cookies() if c["name"].startswith("_streamlit_user")]
        time.sleep(1.1)                      # the logout falls in a later second than the token's iat
        click(wait, (By.XPATH, "//button[.//p[text()='Log out']]"))
        # the login form shows on this page before the browser follows st.logout's redirect, which
        # deletes the cookie: loading the app before that would be a silent login
        wait.until(identity_cookie_gone)
        wait.until(ec.element_to_be_clickable(sso_button))
        driver.get(url)                      # Streamlit's identity cookie is gone: no silent login
        wait.until(ec.element_to_be_clickable(sso_button))
        time.sleep(2)
        assert not driver.find_elements(By.XPATH, "//h1[contains(., 'Overview')]")

        # A browser that never followed the logout's redirect still holds the identity cookie (a
        # reload at once): the token predates the logout, so the app deletes it instead of signing in.
        for cookie in signed_in:
            driver.add_cookie({k: cookie[k] for k in ("name", "value", "path", "httpOnly", "secure") if k in cookie})
        assert not identity_cookie_gone(driver)
        driver.get(url)
        wait.until(identity_cookie_gone)
        wait.until(ec.element_to_be_clickable(sso_button))
        time.sleep(2)
        assert not driver.find_elements(By.XPATH, "//h1[contains(., 'Overview')]")
        stale = workspace.query_rows("SELECT target, details->>'reason' FROM audit_log WHERE action = 'login.failed' "
                                     "AND details->>'reason' = 'sso token from before a logout'")
        assert stale and {row[0] for row in stale} == {"rita@acme.example"}, stale
        assert provider.refusals == []
    finally:
        driver.quit()
