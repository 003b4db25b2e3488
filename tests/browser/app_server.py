"""Start `streamlit run server.py` on a free port for a browser test, and a headless Chromium."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import time
import urllib.request

from tests.child_process import Child

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(env: dict, port: int | None = None, args: tuple = ()):
    """Yield the app's URL while `streamlit run server.py` serves it with `env` added."""
    with streamlit_process(env, port, args) as (url, _):
        yield url


@contextlib.contextmanager
def streamlit_process(env: dict, port: int | None = None, args: tuple = ()):
    """`streamlit_server`, yielding (URL, the serving process's id)."""
    port = port or free_port()
    child = Child([sys.executable, "-m", "streamlit", "run", "server.py", "--server.port", str(port),
                   "--server.address", "127.0.0.1", "--server.headless", "true", *args],
                  env=dict(os.environ, **env))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline and child.running():
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError(f"streamlit did not start:\n{child.output()[-2000:]}")
        yield url, child.proc.pid
    finally:
        child.stop()


def chromium(nice: int = 0):
    """A headless Chromium driven by Debian's chromedriver (flags as the developers' guide sets);
    with `nice`, the driver and the browser run at that lower CPU priority."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-sync", "--disable-component-update",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    lower = {"popen_kw": {"preexec_fn": lambda: os.nice(nice)}} if nice else {}
    return webdriver.Chrome(service=Service(CHROMEDRIVER, **lower), options=options)


def click(wait, locator) -> None:
    """Click the element once it is clickable, again if the page re-rendered it between finding
    and clicking (a Streamlit rerun replaces elements: a stale reference is not a failure)."""
    from selenium.common.exceptions import (ElementClickInterceptedException, NoSuchElementException,
                                            StaleElementReferenceException)

    def attempt(driver) -> bool:
        try:
            element = driver.find_element(*locator)
            if not (element.is_displayed() and element.is_enabled()):
                return False
            element.click()
            return True
        except (StaleElementReferenceException, NoSuchElementException, ElementClickInterceptedException):
            return False
    wait.until(attempt)


def stable_wait(driver, seconds: float):
    """A WebDriverWait that looks again when an element it holds was re-rendered."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException,))

