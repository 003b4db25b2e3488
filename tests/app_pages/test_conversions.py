import pytest
from engine.forward import config
from tests.app_pages.lazy_tabs import open_tab
from tests.engine.forward_fakes import FakePlatform
from tests.engine.test_forward import seed

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def test_admin_maps_an_event_previews_and_forwards(logged_in_app, app_env, admin, monkeypatch):
    seed(app_env, n_orders=1)
    with FakePlatform("meta") as fake:
        config.add_destination(app_env, admin, "meta", "meta_capi", {"pixel_id": "1", "base_url": fake.url})
        monkeypatch.setenv("CDP_DEST_META_ACCESS_TOKEN", "tok")
        at = logged_in_app("admin", "app_pages/conversions.py")
        inputs = {t.label: t for t in at.text_input}
        inputs["Which"].input("Order Completed")
        inputs["Send as"].input("Purchase")
        next(b for b in at.button if b.label == "Add mapping").click().run()
        assert not at.exception
        assert len(config.list_mappings(app_env, "meta")) == 1
        assert at.json, "the payload preview shows"
        assert not [b for b in at.button if b.label == "Forward now"]   # lazy tabs: Delivery has not run
        open_tab(at, "conversions_tab", "Delivery")
        next(b for b in at.button if b.label == "Forward now").click().run()
        assert not at.exception
        assert any("sent 1" in s.value for s in at.success)
        assert len(fake.events()) == 1


def test_analyst_sees_no_payloads_or_buttons(logged_in_app, app_env, admin):
    seed(app_env, n_orders=1)
    config.add_destination(app_env, admin, "meta", "meta_capi", {"pixel_id": "1"})
    config.add_mapping(app_env, admin, "meta", "event", "Order Completed", "Purchase")
    at = logged_in_app("analyst", "app_pages/conversions.py")
    assert not at.exception
    assert not at.json
    assert not [b for b in at.button if b.label == "Add mapping"]
    open_tab(at, "conversions_tab", "Delivery")
    assert not at.exception, at.exception
    assert not [b for b in at.button if b.label == "Forward now"]


def test_admin_forwards_to_the_sandbox_without_credentials(logged_in_app, app_env, monkeypatch, tmp_path):
    monkeypatch.setenv("CDP_SECRETS_FILE", str(tmp_path / "none.toml"))
    seed(app_env, n_orders=1)
    at = logged_in_app("admin", "app_pages/conversions.py")
    assert next(s for s in at.selectbox if s.label == "Destination").value == "sandbox"
    assert any("no credentials needed" in c.value for c in at.caption)
    inputs = {t.label: t for t in at.text_input}
    inputs["Which"].input("Order Completed")
    inputs["Send as"].input("Purchase")
    next(b for b in at.button if b.label == "Add mapping").click().run()
    assert not at.exception, at.exception
    open_tab(at, "conversions_tab", "Delivery")
    forward = next(b for b in at.button if b.label == "Forward now")
    assert not forward.disabled
    forward.click().run()
    assert not at.exception, at.exception
    assert any("sent 1" in s.value for s in at.success)
    folder = app_env.folder / "sandbox" / "conversions"
    assert len(list(folder.glob("*.json"))) == 1
    assert any(str(folder) in c.value for c in at.caption)
    previews = [d.value for d in at.dataframe if "event_name" in d.value.columns]
    assert len(previews) == 1 and previews[0]["event_name"].tolist() == ["Purchase"]


def test_refused_token_shows_an_alert_on_the_screen(logged_in_app, app_env, admin, monkeypatch):
    seed(app_env, n_orders=1)
    with FakePlatform("meta") as fake:
        config.add_destination(app_env, admin, "meta", "meta_capi", {"pixel_id": "1", "base_url": fake.url})
        monkeypatch.setenv("CDP_DEST_META_ACCESS_TOKEN", "tok")
        config.add_mapping(app_env, admin, "meta", "event", "Order Completed", "Purchase")
        fake.script = ["token-expired"]
        at = logged_in_app("admin", "app_pages/conversions.py")
        assert not [e for e in at.error if "refused the access token" in e.value]
        open_tab(at, "conversions_tab", "Delivery")
        next(b for b in at.button if b.label == "Forward now").click().run()
        assert not at.exception
        assert any("refused the access token" in e.value for e in at.error)
        at.run()                              # and it stays on the screen after the click
        assert any("refused the access token" in e.value for e in at.error)
        assert any("Session has expired" in t.value for t in at.text)
