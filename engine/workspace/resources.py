"""How much memory DuckDB may use, and where it spills, in every process on a workspace.

Without a limit DuckDB takes up to 80% of the machine's memory per database instance, and the
app, the CLI and the collector each open their own: a heavy query in one process can push the
machine into the kernel's out-of-memory killer. Every workspace connection therefore gets:

- `memory_limit`: $CDP_MEMORY_LIMIT, else the workspace setting `workspace.memory_limit`, else
  DEFAULT_SHARE of the memory this process may use (the machine's, or a container's cgroup limit
  when smaller). A size ("8GB", "512 MiB") or a share of that memory ("50%").
- `temp_directory`: `<workspace folder>/<stem>.tmp`, so operators that outgrow the limit spill to
  disk beside the workspace instead of failing.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

ENV = "CDP_MEMORY_LIMIT"
SETTING_KEY = "workspace.memory_limit"
DEFAULT_SHARE = 0.6           # leaves room for Python, Streamlit and the other processes
MIN_BYTES = 256 * 2**20       # below this DuckDB cannot do much of anything
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
_CGROUP_FILES = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def _meminfo_total(path: str = "/proc/meminfo") -> int | None:
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_limit(paths=_CGROUP_FILES) -> int | None:
    for path in paths:
        try:
            text = Path(path).read_text(encoding="ascii").strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:     # "max" or a huge number mean no limit
            return int(text)
    return None


def available_memory() -> int | None:
    """Bytes this process may use: the machine's memory, or its container's limit if lower."""
    found = [m for m in (_meminfo_total(), _cgroup_limit()) if m]
    return min(found) if found else None


def parse_size(text: str, total: int | None = None) -> int:
    """'8GB', '512 MiB', '1.5gb', '8589934592' or '50%' (of `total`) -> bytes; ValueError otherwise."""
    raw = str(text or "").strip()
    if raw.endswith("%"):
        share = float(raw[:-1]) if re.match(r"^\d+(\.\d+)?$", raw[:-1].strip()) else -1
        if not 0 < share <= 100:
            raise ValueError(f"{text!r}: a share of memory is between 1% and 100%.")
        if not total:
            raise ValueError("The machine's memory is unknown here; give a size such as 8GB.")
        size = int(total * share / 100)
    else:
        match = _SIZE.match(raw)
        unit = match.group(2).lower() if match else None
        if not match or unit not in _UNITS:
            raise ValueError(f"{text!r} is not a memory size: use e.g. 8GB, 512MiB or 60%.")
        size = int(float(match.group(1)) * _UNITS[unit])
    if size < MIN_BYTES:
        raise ValueError(f"{text!r} is below the smallest memory limit, {MIN_BYTES // 2**20} MiB.")
    return size


def default_limit() -> int | None:
    total = available_memory()
    return max(MIN_BYTES, int(total * DEFAULT_SHARE)) if total else None


def env_limit() -> int | None:
    """$CDP_MEMORY_LIMIT in bytes (None when unset); a bad value is an error a user should read."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    try:
        return parse_size(value, available_memory())
    except ValueError as exc:
        raise ValueError(f"{ENV}: {exc}") from None


def duckdb_size(n: int) -> str:
    return f"{max(1, n // 2**20)}MiB"


def connect_config(database: Path) -> dict[str, str]:
    """DuckDB configuration for a connection to `database` (before any workspace setting is read)."""
    limit = env_limit() or default_limit()
    config = {"temp_directory": str(database.parent / f"{database.stem}.tmp")}
    if limit:
        config["memory_limit"] = duckdb_size(limit)
    return config


def apply_setting(con) -> None:
    """Apply the workspace's own memory limit, unless $CDP_MEMORY_LIMIT overrides it."""
    if os.environ.get(ENV, "").strip():
        return
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'settings' "
                         "AND schema_name = 'main'").fetchone()[0]
    row = con.execute("SELECT json_extract_string(value, '$') FROM settings WHERE key = ?",
                      [SETTING_KEY]).fetchone() if exists else None
    if row and row[0]:
        try:
            size = parse_size(row[0], available_memory())
        except ValueError:
            return      # a setting from a machine with more memory: keep the default rather than fail
        con.execute("SET memory_limit = ?", [duckdb_size(size)])


def current(con) -> dict:
    """What a connection runs with, for `cdp status` and tests."""
    limit, temp = con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchone()
    return {"memory_limit": limit, "temp_directory": temp}


def scratch_connection(folder: Path | None = None):
    """An in-memory DuckDB connection (file previews, spool reads) under the same memory limit,
    spilling to `folder` when given."""
    import duckdb

    limit = env_limit() or default_limit()
    config = {"memory_limit": duckdb_size(limit)} if limit else {}
    if folder is not None:
        config["temp_directory"] = str(folder)
    return duckdb.connect(config=config)


def memory_status(workspace) -> dict:
    """The limit every connection on this workspace runs with, and where it comes from."""
    total = available_memory()
    with workspace.connect() as con:
        row = con.execute("SELECT json_extract_string(value, '$') FROM settings WHERE key = ?",
                          [SETTING_KEY]).fetchone()
        effective = current(con)
    setting = row[0] if row else None
    source = (f"${ENV}" if os.environ.get(ENV, "").strip() else
              f"workspace setting {setting!r}" if setting else
              f"default: {DEFAULT_SHARE:.0%} of {total / 2**30:.1f} GiB" if total else "DuckDB's default")
    return {**effective, "source": source, "setting": setting,
            "machine_memory_gib": round(total / 2**30, 1) if total else None}


def set_memory_limit(workspace, user, value: str | None) -> None:
    """Save the workspace's memory limit (a size or a share, checked here); None goes back to the default."""
    import json

    from engine.access import audit, require

    require(user, "manage_workspace")
    if value is not None:
        parse_size(value, available_memory())
    with workspace.transaction() as con:
        if value is None:
            con.execute("DELETE FROM settings WHERE key = ?", [SETTING_KEY])
        else:
            con.execute("INSERT OR REPLACE INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, now(), ?)",
                        [SETTING_KEY, json.dumps(str(value).strip()), user.username])
        audit(con, user, "workspace.memory_limit", SETTING_KEY, {"value": value})
