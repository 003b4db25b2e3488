import pytest

from tests.conftest import held_open


@pytest.fixture(params=["isolated", "held"])
def sql_env(request, app_env):
    """The app's workspace, and the same held open as a hosted server holds it (CDP_HOLD_WORKSPACE)."""
    with app_env.transaction() as con:
        con.execute("INSERT INTO profiles (profile_id, email, city) VALUES ('p1', 'jane@example.com', 'Leeds')")
    if request.param == "held":
        with held_open(app_env):
            yield app_env
    else:
        yield app_env


def test_sql_screen_runs_a_query_with_masking_for_analysts(logged_in_app, sql_env):
    at = logged_in_app("analyst", "app_pages/sql.py")
    at.text_area[0].input("SELECT profile_id, email, city FROM profiles")
    at.button[0].click().run()
    assert not at.exception
    df = at.dataframe[0].value
    assert list(df["city"]) == ["Leeds"]
    assert df["email"][0] != "jane@example.com" and df["email"][0].startswith("j")


def test_sql_screen_refuses_writes(logged_in_app, sql_env):
    at = logged_in_app("admin", "app_pages/sql.py")
    at.text_area[0].input("DELETE FROM profiles")
    at.button[0].click().run()
    assert any("read-only" in e.value for e in at.error)
    assert sql_env.scalar("SELECT count(*) FROM profiles") == 1


def test_sql_screen_on_a_held_workspace_says_how_to_name_tables(logged_in_app, sql_env):
    at = logged_in_app("analyst", "app_pages/sql.py")
    at.text_area[0].input(f"SELECT email FROM {sql_env.path.stem}.profiles")
    at.button[0].click().run()
    assert not at.exception
    if sql_env.held:   # a held workspace's console cannot tell cdp.profiles from the unmasked table
        assert any("without a database" in e.value for e in at.error)
    else:              # the isolated console maps cdp.profiles to its masked views
        assert at.dataframe[0].value["email"][0] != "jane@example.com"
