"""analytics.js (Segment's @segment/analytics-next, from the npm registry) in headless Chromium
sends to the collector unchanged: settings from /v1/projects/{key}/settings, then the short
forms /v1/i, /v1/t, /v1/p cross-origin (CORS)."""
from __future__ import annotations

import functools
import shutil
import subprocess
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine.collect import Collector
from engine.sources import create_source
from tests.engine.collect_helpers import event_count, wait_for

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
NPM = shutil.which("npm")
ANALYTICS_NEXT = "@segment/analytics-next@1.84.3"

PAGE = """<!doctype html><html><head><title>shop</title><script src="index.js"></script></head>
<body><script>
const {{ AnalyticsBrowser }} = window.AnalyticsNext;
const analytics = AnalyticsBrowser.load({{ writeKey: '{key}', cdnURL: '{collector}' }});
Promise.all([
  analytics.identify('user-42', {{ email: 'shopper@example.com' }}),
  analytics.track('Clicked Buy', {{ price: 10 }}),
  analytics.page('Home'),
]).then(() => {{ document.title = 'sent'; }}, (e) => {{ document.title = 'failed ' + e; }});
</script></body></html>"""


@pytest.fixture(scope="module")
def analytics_next(tmp_path_factory):
    """The package's browser bundle, fetched with npm (skipped when the registry is unreachable)."""
    if not NPM:
        pytest.skip("needs npm to fetch @segment/analytics-next")
    folder = tmp_path_factory.mktemp("ajs")
    done = subprocess.run([NPM, "pack", ANALYTICS_NEXT, "--pack-destination", str(folder)],
                          capture_output=True, text=True, timeout=180, cwd=folder)
    tarballs = list(folder.glob("*.tgz"))
    if done.returncode != 0 or not tarballs:
        pytest.skip(f"could not fetch {ANALYTICS_NEXT}: {done.stderr.strip()[-200:]}")
    with tarfile.open(tarballs[0]) as tar:
        tar.extractall(folder, filter="data")
    return folder / "package" / "dist" / "umd"


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver")
def test_analytics_js_in_a_real_browser_lands_events(analytics_next, workspace, admin, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    key = create_source(workspace, admin, "Website", "events").write_key
    site = tmp_path / "site"
    shutil.copytree(analytics_next, site)
    collector = Collector(workspace, "127.0.0.1", 0, interval=0.2).start()
    (site / "index.html").write_text(PAGE.format(key=key, collector=collector.url))
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None
    web = ThreadingHTTPServer(("127.0.0.1", 0), handler)  # another origin than the collector
    threading.Thread(target=web.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-sync", "--disable-component-update"):
        options.add_argument(flag)
    driver = None
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.get(f"http://127.0.0.1:{web.server_address[1]}/index.html")
        WebDriverWait(driver, 60).until(lambda d: d.title != "shop")
        assert driver.title == "sent", driver.title
        assert wait_for(lambda: event_count(workspace) >= 3, 30)
    finally:
        if driver:
            driver.quit()
        web.shutdown()
        web.server_close()
        collector.stop()
    rows = workspace.query_rows(
        "SELECT type, coalesce(event, name), user_id, anonymous_id IS NOT NULL,"
        " context->'library'->>'name' FROM events ORDER BY type")
    assert rows == [("identify", None, "user-42", True, "analytics.js"),
                    ("page", "Home", "user-42", True, "analytics.js"),
                    ("track", "Clicked Buy", "user-42", True, "analytics.js")]
    assert workspace.scalar("SELECT traits->>'email' FROM events WHERE type = 'identify'") == \
        "shopper@example.com"
