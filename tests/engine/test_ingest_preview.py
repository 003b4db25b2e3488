"""The Sources screen's preview reads a large CSV only as far as the load needs to map it."""
import pytest
import engine.ingest.load as load
from engine.ingest import ingest_file, suggest_for_file

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def _csv(path, n):
    lines = ["Contact ID,E-mail Address,First Name"] + [f"C{i},p{i}@example.com,Ann{i}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_preview_of_a_large_csv_reads_only_its_first_rows(workspace, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(load, "INFER_SAMPLE", 50)
    path = _csv(tmp_path / "big.csv", 500)
    info, preview, suggestions, rows = suggest_for_file(workspace, admin, "contacts", path, limit=5)
    assert rows is None                                   # counted when it loads, not before
    assert preview["Contact ID"].tolist() == ["C0", "C1", "C2", "C3", "C4"]
    assert {s.column: s.field for s in suggestions}["E-mail Address"] == "email"
    result = ingest_file(workspace, admin, "contacts", path, source="crm")
    assert result.rows_read == result.rows_loaded == 500


def test_preview_of_a_small_csv_counts_its_rows(workspace, admin, tmp_path):
    _, preview, _, rows = suggest_for_file(workspace, admin, "contacts", _csv(tmp_path / "small.csv", 30))
    assert rows == 30 and len(preview) == 20
