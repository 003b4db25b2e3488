"""Every workspace connection runs under a memory limit, spills beside the workspace, and the
limit comes from $CDP_MEMORY_LIMIT, else the workspace setting, else a share of the machine."""
import duckdb
import pytest

from engine.access import PermissionDenied
from engine.cli.main import main
from engine.workspace import Workspace, resources


def shown(size_bytes: int) -> str:
    """How DuckDB itself displays a limit of this many bytes."""
    con = duckdb.connect(config={"memory_limit": resources.duckdb_size(size_bytes)})
    try:
        return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    finally:
        con.close()


def limit_of(ws) -> dict:
    with ws.connect() as con:
        return resources.current(con)


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv(resources.ENV, raising=False)


def test_a_connection_has_the_default_limit_and_spills_beside_the_workspace(workspace):
    total = resources.available_memory()
    assert total and total > resources.MIN_BYTES
    got = limit_of(workspace)
    assert got["memory_limit"] == shown(int(total * resources.DEFAULT_SHARE))
    assert got["memory_limit"] != shown(int(total * 0.8))         # not DuckDB's own 80%
    assert got["temp_directory"] == str(workspace.path.parent / "cdp.tmp")
    with workspace.connect(read_only=True) as con:                # read-only connections too
        assert resources.current(con)["memory_limit"] == got["memory_limit"]


def test_the_environment_overrides_the_default_and_the_setting(workspace, admin, monkeypatch):
    resources.set_memory_limit(workspace, admin, "2GiB")
    assert limit_of(workspace)["memory_limit"] == "2.0 GiB"
    monkeypatch.setenv(resources.ENV, "1GiB")
    assert limit_of(workspace)["memory_limit"] == "1.0 GiB"
    assert resources.memory_status(workspace)["source"] == "$CDP_MEMORY_LIMIT"
    monkeypatch.setenv(resources.ENV, "25%")
    assert limit_of(workspace)["memory_limit"] == shown(int(resources.available_memory() * 0.25))
    monkeypatch.setenv(resources.ENV, "lots")
    with pytest.raises(ValueError, match="CDP_MEMORY_LIMIT"):
        limit_of(Workspace(workspace.path))


def test_the_workspace_setting_is_checked_saved_and_cleared(workspace, admin, marketer):
    with pytest.raises(ValueError, match="not a memory size"):
        resources.set_memory_limit(workspace, admin, "8 parsecs")
    with pytest.raises(ValueError, match="smallest"):
        resources.set_memory_limit(workspace, admin, "10MB")
    with pytest.raises(PermissionDenied):
        resources.set_memory_limit(workspace, marketer, "2GiB")
    resources.set_memory_limit(workspace, admin, "1536MiB")
    assert limit_of(workspace)["memory_limit"] == "1.5 GiB"
    assert resources.memory_status(workspace)["setting"] == "1536MiB"
    resources.set_memory_limit(workspace, admin, None)
    assert limit_of(workspace)["memory_limit"] == shown(resources.default_limit())


@pytest.mark.parametrize("text, expected", [
    ("8GB", 8 * 10**9), ("512 MiB", 512 * 2**20), ("1.5gib", int(1.5 * 2**30)), ("1073741824", 2**30),
    ("50%", 4 * 2**30),
])
def test_sizes(text, expected):
    assert resources.parse_size(text, total=8 * 2**30) == expected


@pytest.mark.parametrize("text", ["", "GB", "-1GB", "0%", "150%", "12 furlongs", "100KB"])
def test_bad_sizes(text):
    with pytest.raises(ValueError):
        resources.parse_size(text, total=8 * 2**30)


def test_a_container_limit_below_the_machine_wins(tmp_path, monkeypatch):
    cgroup = tmp_path / "memory.max"
    cgroup.write_text("2147483648\n")
    assert resources._cgroup_limit([str(tmp_path / "absent"), str(cgroup)]) == 2**30 * 2
    cgroup.write_text("max\n")
    assert resources._cgroup_limit([str(cgroup)]) is None
    monkeypatch.setattr(resources, "_meminfo_total", lambda: 64 * 2**30)
    monkeypatch.setattr(resources, "_cgroup_limit", lambda: 4 * 2**30)
    assert resources.available_memory() == 4 * 2**30
    assert resources.default_limit() == int(4 * 2**30 * resources.DEFAULT_SHARE)


def test_scratch_connections_share_the_limit(monkeypatch, tmp_path):
    monkeypatch.setenv(resources.ENV, "768MiB")
    con = resources.scratch_connection(tmp_path)
    try:
        assert resources.current(con) == {"memory_limit": "768.0 MiB", "temp_directory": str(tmp_path)}
    finally:
        con.close()


def test_cli_sets_and_shows_the_limit(workspace, monkeypatch, capsys):
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    assert main(["memory", "--set", "3GiB"]) == 0
    assert "Memory limit: 3.0 GiB (workspace setting '3GiB')" in capsys.readouterr().out
    assert main(["status"]) == 0
    assert "Memory limit: 3.0 GiB" in capsys.readouterr().out
    assert main(["memory", "--set", "a lot"]) == 1
    assert main(["memory", "--clear"]) == 0
    assert "default: 60%" in capsys.readouterr().out
