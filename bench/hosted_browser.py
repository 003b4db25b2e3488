"""One user of the hosted benchmark in headless Chromium (tests/browser/app_server.chromium()).

`BrowserUser` logs in, opens the screens of the sidebar, runs a segment count, a funnel and a
profile search, and records each as a `Visit`: the seconds until the screen settled and the
errors Streamlit showed. A screen has settled when no script run is in flight (the app's script
state, a spinner, skeleton or stale element), its element count has stayed the same for
STABLE_POLLS polls, and a script run was seen since the click (or NO_RUN_SEEN_S passed without one);
the time recorded is when that stable stretch began. Runs are counted in the page by a
MutationObserver on the script state, so a rerun that starts and ends between two polls counts
too (before, such steps waited out NO_RUN_SEEN_S and were recorded as about 5 s).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

POLL_S = 0.15
STABLE_POLLS = 4
NO_RUN_SEEN_S = 5.0

STATE_JS = """
const q = s => document.querySelectorAll(s).length;
const main = document.querySelector("[data-testid='stMain']");
const h1 = main && main.querySelector("h1");
const app = document.querySelector("[data-test-script-state]");
if (app && !window.__cdpRuns) {     // counts script runs, also those that start and end between two polls
  window.__cdpRuns = {n: 0};
  new MutationObserver(() => { if (app.getAttribute("data-test-script-state") === "running") window.__cdpRuns.n++; })
    .observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
}
return {
  runs: window.__cdpRuns ? window.__cdpRuns.n : 0,
  running: (app && app.getAttribute("data-test-script-state") === "running" ? 1 : 0)
           + q("[data-testid='stStatusWidgetRunningIcon'], [data-testid='stStatusWidget'] button"),
  busy: q("[data-testid='stSpinner'], [data-testid='stSkeleton'], "
          + "[data-testid='stElementContainer'][data-stale='true']"),
  elements: main ? main.querySelectorAll("*").length : 0,
  title: h1 ? h1.innerText : "",
  text: main ? main.innerText.slice(0, 20000) : "",
  exceptions: [...document.querySelectorAll("[data-testid='stException']")].map(e => e.innerText.slice(0, 300)),
  errors: [...document.querySelectorAll("[data-testid='stAlertContentError']")].map(e => e.innerText.slice(0, 300)),
};
"""


@dataclass
class Visit:
    """One timed step of a user: a screen opened, or an action on it."""
    step: str
    seconds: float
    errors: list[str] = field(default_factory=list)
    timed_out: bool = False
    started: float = 0.0           # time.monotonic() when the step began


class BrowserUser:
    """A logged-in user driving the app in one headless Chromium."""

    def __init__(self, url: str, username: str, password: str, timeout: float = 120.0, nice: int = 0):
        from tests.browser.app_server import chromium
        self.url, self.username, self.password, self.timeout = url, username, password, timeout
        self.driver = chromium(nice)
        self.driver.set_page_load_timeout(timeout)
        self.visits: list[Visit] = []

    def close(self) -> None:
        try:
            self.driver.quit()
        except Exception:          # noqa: BLE001 - the browser may be gone already
            pass

    # -- waiting -----------------------------------------------------------------------
    def _state(self) -> dict:
        return self.driver.execute_script(STATE_JS)

    def _runs(self) -> int | None:
        """Script runs the page has counted so far (None before the app is on the page)."""
        try:
            return self._state().get("runs")
        except Exception:          # noqa: BLE001 - the page is being replaced
            return None

    def settle(self, step: str, started: float, title: str | None = None, text: str | None = None,
               record: bool = True, runs_before: int | None = None) -> Visit:
        """Wait until the screen settles (showing `title` / containing `text` when given) after a
        run since `runs_before` (the page's run count before the click); record it."""
        stable_since, last_count, stable, seen_run = None, None, 0, False
        state: dict = {}
        while time.monotonic() - started < self.timeout:
            try:
                state = self._state()
            except Exception:      # noqa: BLE001 - the page is being replaced
                state = {}
            now = time.monotonic()
            seen_run = seen_run or bool(state.get("running")) \
                or (runs_before is not None and state.get("runs", 0) > runs_before)
            ready = bool(state) and not state["running"] and not state["busy"] \
                and (title is None or state["title"].startswith(title)) \
                and (text is None or text in state["text"])
            if ready and state["elements"] == last_count:
                stable += 1
            else:
                stable, stable_since = (1, now) if ready else (0, None)
            last_count = state.get("elements") if ready else None
            # No run seen in NO_RUN_SEEN_S: the click started none; the screen has looked so since stable_since.
            if stable >= STABLE_POLLS and (seen_run or now - started > NO_RUN_SEEN_S):
                return self._record(step, stable_since - started, state, started, record=record)
            time.sleep(POLL_S)
        return self._record(step, self.timeout, state, started, timed_out=True)

    def _record(self, step: str, seconds: float, state: dict, started: float, timed_out: bool = False,
                record: bool = True) -> Visit:
        errors = [f"exception: {e}" for e in state.get("exceptions", [])] + \
                 [f"error box: {e}" for e in state.get("errors", [])]
        if timed_out:
            errors.append(f"did not settle within {self.timeout:.0f} s")
            self._keep_evidence(step, state)
        visit = Visit(step, round(seconds, 3), errors, timed_out, started)
        if record or timed_out or errors:
            self.visits.append(visit)
        return visit

    def _keep_evidence(self, step: str, state: dict) -> None:
        """A screenshot and what the page said when a step did not settle, under bench/out/."""
        from pathlib import Path
        out = Path(__file__).resolve().parent / "out" / "unsettled"
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{self.username}-{id(self) % 10_000}-{step.replace(' ', '_')}"
        try:
            out.mkdir(parents=True, exist_ok=True)
            self.driver.save_screenshot(str(out / f"{name}.png"))
            (out / f"{name}.txt").write_text(
                f"running={state.get('running')} busy={state.get('busy')} title={state.get('title')!r}\n\n"
                f"{state.get('text', '')}")
        except Exception:          # noqa: BLE001 - evidence is a courtesy; the visit is recorded anyway
            pass

    def _find(self, xpath: str):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait
        return WebDriverWait(self.driver, self.timeout).until(ec.element_to_be_clickable((By.XPATH, xpath)))

    # -- steps -------------------------------------------------------------------------
    def log_in(self) -> Visit:
        """From opening the address to a settled Overview."""
        started = time.monotonic()
        self.driver.get(self.url)
        self._find("//input[@aria-label='Username']").send_keys(self.username)
        self._find("//input[@aria-label='Password']").send_keys(self.password)
        self._find("//button[.//p[text()='Login']]").click()
        return self.settle("log in", started, title="Overview")

    def screens(self) -> list[str]:
        """Titles of the screens in the sidebar, in order."""
        from selenium.webdriver.common.by import By
        links = self.driver.find_elements(By.CSS_SELECTOR, "[data-testid='stSidebarNavLink']")
        titles = [link.text.strip().splitlines()[-1] for link in links if link.text.strip()]   # after the icon's name
        if not titles:
            raise RuntimeError("no screens in the sidebar (not logged in)")
        return titles

    def open(self, title: str) -> Visit:
        link = self._find(f"//a[@data-testid='stSidebarNavLink'][.//span[@label='{title}']]")
        runs, started = self._runs(), time.monotonic()
        link.click()
        return self.settle(title, started, title=title, runs_before=runs)

    def click_button(self, label: str, step: str, title: str, text: str | None = None,
                     record: bool = True) -> Visit:
        button = self._find(f"//button[.//p[normalize-space(text())='{label}']]")
        runs, started = self._runs(), time.monotonic()
        button.click()
        return self.settle(step, started, title=title, text=text, record=record, runs_before=runs)

    def type_into(self, aria_label: str, value: str, step: str, title: str, text: str | None = None) -> Visit:
        from selenium.webdriver.common.keys import Keys
        box = self._find(f"//input[@aria-label='{aria_label}']")
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(value)
        runs, started = self._runs(), time.monotonic()
        box.send_keys(Keys.ENTER)
        return self.settle(step, started, title=title, text=text, runs_before=runs)

    def segment_count(self, country: str) -> Visit:
        """On Segments: a new segment of one condition (country equals ...) until its live count shows."""
        self.click_button("New", "segment builder", "Segments", record=False)
        self.click_button("Condition", "segment builder", "Segments", text="Finish the rules", record=False)
        return self.type_into("Value", country, "segment count", "Segments", text="Members")

    def funnel(self, window_days: int) -> Visit:
        """On Journeys: a new conversion window, so the funnel is computed afresh."""
        return self.type_into("Conversion window (days)", str(window_days), "funnel", "Journeys",
                              text="Product Viewed")

    def profile_search(self, query: str) -> Visit:
        return self.type_into("Search people", query, "profile search", "Profiles", text="best matches")
