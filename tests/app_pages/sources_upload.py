"""Driving the Sources screen's upload in an AppTest: kind, a new source, one file."""


def upload(at, source: str, name: str, data: bytes, mime: str = "text/csv", kind: str = "contacts"):
    """Pick the kind, name a new source and upload one file (AppTest `at` on app_pages/sources.py)."""
    at.selectbox(key="src_kind").set_value(kind).run()
    at.selectbox(key="src_choice").set_value("New source…").run()
    at.text_input(key="src_new_name").input(source).run()
    at.file_uploader(key="src_file").upload(name, data, mime).run()
    return at
