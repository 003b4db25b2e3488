"""The Audiences screen: dry run first, then push to a (fake) destination or the sandbox; roles;
destinations form."""
import pytest

from engine.access import User
from engine.activation import config
from tests.app_pages.jobs_helpers import wait_for_jobs
from tests.app_pages.lazy_tabs import has_widget, open_tab
from tests.engine.activation_data import add_people
from tests.engine.activation_fakes import TOKEN, FakePlatform

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

PAGE = "app_pages/activation.py"


def _push(at, workspace) -> None:
    """Click Push now; the sync runs as a background job, then the screen shows its result."""
    at.button(key="act_push").click().run()
    assert not at.exception, at.exception
    assert wait_for_jobs(workspace)
    at.run()


@pytest.fixture
def people(app_env, monkeypatch, tmp_path):
    """Seven profiles tagged vip, five with advertising consent; no credentials anywhere."""
    monkeypatch.setenv("CDP_SECRETS_FILE", str(tmp_path / "none.toml"))
    add_people(app_env, 5)
    add_people(app_env, 2, start=50, consent=None)
    with app_env.transaction() as con:
        con.execute("INSERT INTO profile_tags (profile_id, tag) SELECT profile_id, 'vip' FROM profiles")


@pytest.fixture
def meta(app_env, people, monkeypatch):
    monkeypatch.setenv("CDP_DEST_META_ACCESS_TOKEN", TOKEN)
    with FakePlatform("meta") as fake:
        config.add_destination(app_env, User("admin", "admin"), "meta", "meta",
                               {"audience_id": "42", "base_url": fake.url})
        yield fake


def test_dry_run_then_push(logged_in_app, meta, app_env):
    at = logged_in_app("marketer", PAGE)
    at.button(key="act_dry_run").click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["To add"] == "5" and metrics["Held back"] == "2"
    assert meta.requests == []
    _push(at, app_env)
    assert not at.exception, at.exception
    assert any("Succeeded" in s.value and "added 5" in s.value for s in at.success)
    assert len(meta.members) == 5 and meta.violations == []
    assert app_env.scalar("SELECT count(*) FROM activation_runs WHERE started_by = 'marketer'") == 1
    # The tab that started it may be gone: anyone opening the screen sees how the push went.
    other = logged_in_app("analyst", PAGE)
    assert any("Succeeded" in s.value and "by marketer" in s.value for s in other.success)


def test_push_shows_what_the_platform_reported_and_history_keeps_it(logged_in_app, meta, app_env):
    import hashlib
    meta.invalid_keys.add(hashlib.sha256(b"person.2+news@example.com").hexdigest())
    at = logged_in_app("marketer", PAGE)
    at.button(key="act_dry_run").click().run()
    _push(at, app_env)
    assert not at.exception, at.exception
    assert "Received 5 rows, 1 invalid." in [t.value for t in at.text]
    # The next dry run's estimate has learned from that report; History shows the last report.
    at.button(key="act_dry_run").click().run()
    assert not at.exception, at.exception
    open_tab(at, "activation_tab", "History")
    assert not at.exception, at.exception
    assert "Received 5 rows, 1 invalid." in [t.value for t in at.text]
    assert any(s.value.startswith("Last platform report: run") for s in at.subheader)


def test_push_to_the_sandbox_shows_what_the_platform_would_receive(logged_in_app, people, app_env):
    at = logged_in_app("marketer", PAGE)
    at.selectbox(key="act_dest").select("sandbox").run()
    at.button(key="act_dry_run").click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["To add"] == "5" and metrics["Held back"] == "2"
    folder = app_env.folder / "sandbox" / "tag-vip"
    assert not folder.exists()                      # a dry run writes nothing
    _push(at, app_env)
    assert not at.exception, at.exception
    assert any("Succeeded" in s.value and "added 5" in s.value for s in at.success)
    assert len(list(folder.glob("*-add-1.json"))) == 1
    assert any(str(folder) in c.value for c in at.caption)
    previews = [d.value for d in at.dataframe if "EMAIL" in d.value.columns]
    assert len(previews) == 1 and len(previews[0]) == 5     # the hashed rows Meta would receive


def test_analyst_sees_history_but_cannot_push(logged_in_app, meta):
    at = logged_in_app("analyst", PAGE)
    assert not at.exception
    assert any("may look at sync history" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "act_dry_run"]
    assert not has_widget(at, "button", "lift_measure")        # lazy tabs: History has not run
    open_tab(at, "activation_tab", "History")
    assert not at.exception, at.exception
    assert has_widget(at, "button", "lift_measure")


def test_admin_adds_destination_and_secrets_are_refused(logged_in_app, meta, app_env):
    at = logged_in_app("admin", PAGE)
    assert not has_widget(at, "text_input", "dest_name")       # lazy tabs: Destinations has not run
    open_tab(at, "activation_tab", "Destinations")
    at.text_input(key="dest_name").input("hooks")
    at.selectbox(key="dest_kind").select("webhook")
    at.text_area(key="dest_settings").input("base_url=https://example.com/hook\nsecret=abc")
    submit = [b for b in at.button if b.label == "Save destination"][0]
    submit.click().run()
    assert any("credential" in e.value for e in at.error)
    at.text_area(key="dest_settings").input("base_url=https://example.com/hook")
    [b for b in at.button if b.label == "Save destination"][0].click().run()
    assert not at.exception, at.exception
    assert "hooks" in set(config.list_destinations(app_env)["name"])


def test_schedule_and_holdout_are_saved_by_a_push_that_succeeds_not_by_the_dry_run(logged_in_app, meta, app_env):
    at = logged_in_app("marketer", PAGE)
    at.selectbox(key="act_schedule").select("daily").run()
    at.button(key="act_dry_run").click().run()
    assert not at.exception, at.exception
    assert app_env.scalar("SELECT schedule FROM activation_audiences") == "manual"
    _push(at, app_env)
    assert not at.exception, at.exception
    assert any("Succeeded" in s.value for s in at.success)
    assert app_env.scalar("SELECT schedule FROM activation_audiences") == "daily"
