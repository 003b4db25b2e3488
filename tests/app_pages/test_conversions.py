from engine.forward import config
from tests.engine.forward_fakes import FakePlatform
from tests.engine.test_forward import seed


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
    assert not [b for b in at.button if b.label in ("Forward now", "Add mapping")]
