"""Files under the workspace folder are rewritten without the person by their format (zips read
too), and what cannot be rewritten is kept and reported, never silently skipped."""
import pytest
import io
import json
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq

from engine.privacy.files import scrub_folder

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

WHO = "mira.okafor@fernhill-post.co.uk"
OTHER = "ann.lee@fernhill-post.co.uk"


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def test_each_format_is_rewritten_without_the_person(workspace):
    folder = workspace.folder
    (folder / "landing").mkdir()
    (folder / "landing" / "a.csv").write_text(f"email,name\n{WHO.upper()},Mira\n{OTHER},Ann\n")
    pq.write_table(pa.table({"email": [WHO, OTHER], "n": [1, 2]}), folder / "landing" / "b.parquet")
    (folder / "landing" / "c.json").write_text(json.dumps([{"email": WHO}, {"email": OTHER}]))
    (folder / "exports").mkdir()
    (folder / "exports" / "bundle.zip").write_bytes(_zip({"people.csv": f"email\n{WHO}\n{OTHER}\n".encode()}))
    (folder / "exports" / "mine.zip").write_bytes(_zip({
        "summary.json": json.dumps({"request_id": 3, "profiles": ["p9"]}).encode(), "x.csv": WHO.encode()}))
    (folder / "exports" / "sheet.xlsx").write_bytes(_zip({"xl/sharedStrings.xml": WHO.encode()}))
    (folder / "exports" / "untouched.csv").write_text(f"email\n{OTHER}\n")
    report = {r["path"]: r for r in scrub_folder(workspace, [WHO], ["p9"])}
    assert {p: r["action"] for p, r in report.items()} == {
        "landing/a.csv": "rewritten", "landing/b.parquet": "rewritten", "landing/c.json": "rewritten",
        "exports/bundle.zip": "rewritten", "exports/mine.zip": "removed", "exports/sheet.xlsx": "kept"}
    assert "by hand" in report["exports/sheet.xlsx"]["reason"]
    assert (folder / "landing" / "a.csv").read_text() == f"email,name\n{OTHER},Ann\n"
    assert pq.read_table(folder / "landing" / "b.parquet").column("email").to_pylist() == [OTHER]
    assert json.loads((folder / "landing" / "c.json").read_text()) == [{"email": OTHER}]
    with zipfile.ZipFile(folder / "exports" / "bundle.zip") as z:
        assert z.read("people.csv").decode() == f"email\n{OTHER}\n"
    assert not (folder / "exports" / "mine.zip").exists()
    with zipfile.ZipFile(folder / "exports" / "sheet.xlsx") as z:      # kept, and reported
        assert z.read("xl/sharedStrings.xml") == WHO.encode()
