def _seed(ws):
    with ws.transaction() as con:
        con.execute("INSERT INTO profiles (profile_id, email, city) VALUES ('p1', 'jane@example.com', 'Leeds')")


def test_sql_screen_runs_a_query_with_masking_for_analysts(logged_in_app, app_env):
    _seed(app_env)
    at = logged_in_app("analyst", "app_pages/sql.py")
    at.text_area[0].input("SELECT profile_id, email, city FROM profiles")
    at.button[0].click().run()
    df = at.dataframe[0].value
    assert list(df["city"]) == ["Leeds"]
    assert df["email"][0] != "jane@example.com" and df["email"][0].startswith("j")


def test_sql_screen_refuses_writes(logged_in_app, app_env):
    _seed(app_env)
    at = logged_in_app("admin", "app_pages/sql.py")
    at.text_area[0].input("DELETE FROM profiles")
    at.button[0].click().run()
    assert any("read-only" in e.value for e in at.error)
    assert app_env.scalar("SELECT count(*) FROM profiles") == 1
