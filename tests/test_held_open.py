"""held_open (tests/conftest.py): while the block runs the file is held by this process and every
connect() joins it; when the block ends what was written is in the file for anyone to read."""
from __future__ import annotations

import duckdb
import pytest

from tests.conftest import held_open


def test_the_file_is_held_and_written_through_when_the_block_ends(workspace):
    with held_open(workspace):
        with workspace.transaction() as con:
            con.execute("CREATE TABLE held_probe AS SELECT 42 AS answer")
        assert workspace.scalar("SELECT answer FROM held_probe") == 42
        with pytest.raises(duckdb.Error):          # another configuration cannot open the held file
            duckdb.connect(str(workspace.path), read_only=True)
    reader = duckdb.connect(str(workspace.path), read_only=True)
    try:
        assert reader.execute("SELECT answer FROM held_probe").fetchone() == (42,)
    finally:
        reader.close()


@pytest.mark.held_open
def test_the_marker_holds_the_workspace_fixture(workspace):
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(workspace.path), read_only=True)
