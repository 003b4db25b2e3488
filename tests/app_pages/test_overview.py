import pytest
from tests.engine.test_overview import _seed

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def test_overview_shows_headline_figures(logged_in_app, app_env):
    _seed(app_env)
    at = logged_in_app("analyst", "app_pages/overview.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Profiles"] == "2"
    assert metrics["Events"] == "9"
    assert metrics["Advertising consent"] == "50.0%"
    assert len(at.get("plotly_chart")) == 2


def test_overview_on_empty_workspace_says_what_to_do(logged_in_app):
    at = logged_in_app("marketer", "app_pages/overview.py")
    assert any("empty" in i.value for i in at.info)
