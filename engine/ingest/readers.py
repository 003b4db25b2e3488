"""Format detection and reading any upload as text into a DuckDB staging table.

Every reader produces the same thing: a temp table with a `_row` column (the
1-based record number in the file, header not counted) and one VARCHAR column
per source column, named by its header with whitespace trimmed. Rows the reader
itself cannot make sense of (a CSV line with the wrong number of fields) go to a
second temp table `<stage>_rejects(_row, raw, reason)`, so nothing is lost.

DuckDB's own readers do the work where they can (read_csv with all_varchar,
read_json, read_parquet); Excel goes through openpyxl, and files in
Windows-1252/Latin-1 are first re-encoded to UTF-8 in chunks.
"""
from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import os
import re
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from engine.ingest.common import IngestError, drop_temp
from engine.sql_names import quote_name

FORMATS = ("csv", "xlsx", "json", "ndjson", "parquet")
DELIMITERS = (",", ";", "\t", "|")
_HEAD_BYTES = 256 * 1024
_CHUNK = 4 * 1024 * 1024
_QUOTED = re.compile(r'"(?:[^"]|"")*"')


@dataclass
class FileInfo:
    """What we learned about a file before reading it."""

    format: str
    encoding: str = "utf-8"           # utf-8 | utf-8-sig | cp1252
    delimiter: str | None = None
    size: int = 0
    # The file's sha256 (hex), or a Future of it while a background thread computes it.
    digest: str | Future = field(default="", repr=False)
    sheet: str | None = None           # the workbook's sheet chosen by name (None: the first with data)

    @property
    def sha256(self) -> str:
        """The file's digest; a sheet chosen by name is part of it (each sheet is its own upload)."""
        if isinstance(self.digest, Future):
            self.digest = self.digest.result()
        if self.sheet is None:
            return self.digest
        return hashlib.sha256(f"{self.digest}:{self.sheet}".encode()).hexdigest()

    def describe(self) -> str:
        parts = [self.format.upper()]
        if self.format == "csv":
            names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
            parts.append(f"{names.get(self.delimiter, repr(self.delimiter))}-separated")
            parts.append({"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM",
                          "cp1252": "Windows-1252/Latin-1"}[self.encoding])
        return ", ".join(parts)


@dataclass
class Staged:
    """A file read into a staging table."""

    table: str
    columns: list[str]
    rows: int                          # rows in the staging table
    rejects: int                       # rows the reader could not split into fields
    info: FileInfo
    notes: list[str] = field(default_factory=list)

    # Set when the staging table holds only the first rows (enough to map and infer formats):
    # the CSV to read every row from, once, when the load runs, and its header as read (the
    # staging table's columns are the cleaned names). rows and rejects are then only known
    # after that read (see collect_rejects).
    csv_source: Path | None = None
    csv_names: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.csv_source is None

    @property
    def rows_read(self) -> int:
        return self.rows + self.rejects

    @property
    def rejects_table(self) -> str:
        return self.table + "_rejects"

    def source(self, numbered: bool = True, reads_as: str | None = None) -> tuple[str, list]:
        """(FROM-clause SQL, its parameters) reading every row of the file as staged.

        For a partly staged CSV this reads the file. `_row` is the record number only when
        `numbered` (numbering makes DuckDB read on one thread; else it is NULL). The reader's
        rejected lines are noted in temp tables named after `reads_as` (default: this table,
        see collect_rejects)."""
        if self.csv_source is None:
            return self.table, []
        read, params = _csv_read(self.csv_source, self.info, reads_as or self.table, numbered)
        select = ", ".join(f'"{n.replace(chr(34), chr(34) * 2)}" AS "{c.replace(chr(34), chr(34) * 2)}"'
                           for n, c in zip(self.csv_names, self.columns))
        row = "CAST(ordinality AS BIGINT)" if numbered else "NULL::BIGINT"
        return f"(SELECT {row} AS _row, {select} FROM {read})", params


_BACKGROUND = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-file")


def in_background(fn, *args) -> Future:
    return _BACKGROUND.submit(fn, *args)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)  # hashlib lets other threads run while it hashes a large buffer
    return digest.hexdigest()


def _is_utf8(path: Path) -> bool:
    """Whether the file is valid UTF-8 throughout; ASCII chunks (most of most files) are skipped."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                if chunk.isascii() and not decoder.getstate()[0]:
                    continue
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head[:4096] if b < 32 and b not in (9, 10, 13, 12))
    return controls > max(8, len(head[:4096]) // 50)


def _detect_delimiter(text: str) -> str:
    """The delimiter used in the header line: the candidate that occurs most outside quotes,
    preferring one that splits the next lines into the same number of fields."""
    lines = [line for line in text.splitlines() if line.strip()][:20]
    if not lines:
        return ","
    header = _QUOTED.sub("", lines[0])
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
    if counts[best] == 0:
        return ","
    consistent = [d for d in DELIMITERS if counts[d] and
                  sum(_QUOTED.sub("", line).count(d) == counts[d] for line in lines[1:]) >= len(lines[1:]) / 2]
    if consistent:
        return max(consistent, key=lambda d: counts[d])
    return best


def detect(path: str | os.PathLike, file_format: str | None = None, sheet: str | None = None) -> FileInfo:
    """Identify the format (unless given) and, for text files, the encoding and delimiter.

    Raises IngestError with a one-line reason for empty, binary or unsupported files, and for a
    sheet named in a file that is not a workbook.
    """
    info = _detect(path, file_format)
    if sheet is not None:
        if info.format != "xlsx":
            raise IngestError(f"Only an Excel workbook has sheets; this file is {info.format.upper()}.")
        info.sheet = sheet
    return info


def _detect(path: str | os.PathLike, file_format: str | None = None) -> FileInfo:
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"No such file: {path.name}")
    if file_format and file_format not in FORMATS:
        raise IngestError(f"Unknown format {file_format!r}; choose one of {', '.join(FORMATS)}.")
    with open(path, "rb") as f:
        head = f.read(_HEAD_BYTES)
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise IngestError("The file is empty.")
    size = path.stat().st_size
    # The digest (only needed to recognise a re-upload) is computed while the file is read.
    sha = in_background(_sha256, path)
    if file_format in ("xlsx", "parquet") or (file_format is None and head[:4] in (b"PK\x03\x04", b"PAR1")):
        fmt = file_format or ("xlsx" if head[:2] == b"PK" else "parquet")
        return FileInfo(fmt, size=size, digest=sha)
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise IngestError("Old Excel (.xls) files are not supported; save the sheet as .xlsx or CSV.")
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise IngestError("UTF-16 text is not supported; save the file as UTF-8 CSV.")
    if _looks_binary(head):
        raise IngestError("The file is binary, not a spreadsheet, CSV, JSON or Parquet file.")
    utf8 = _is_utf8(path)
    encoding = ("utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8") if utf8 else "cp1252"
    text = head.decode("utf-8-sig" if utf8 else "cp1252", errors="replace")
    stripped = text.lstrip()
    fmt = file_format
    if fmt is None:
        if stripped[:1] in "{[":
            lines = [line.strip() for line in stripped.splitlines() if line.strip()]
            fmt = "ndjson" if len(lines) > 1 and lines[0].startswith("{") and lines[0].endswith("}") \
                and lines[1].startswith("{") else "json"
        else:
            fmt = "csv"
    delimiter = _detect_delimiter(text) if fmt == "csv" else None
    return FileInfo(fmt, encoding=encoding, delimiter=delimiter, size=size, digest=sha)


# -- staging ---------------------------------------------------------------------------------


def _clean_headers(names: list[str]) -> list[str]:
    """Trim whitespace; blank or repeated headers get a position-based name."""
    out: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(names):
        clean = re.sub(r"\s+", " ", str(name or "")).strip() or f"column_{i + 1}"
        base, n = clean, 2
        while clean.lower() in seen or clean == "_row":
            clean, n = f"{base}_{n}", n + 1
        seen.add(clean.lower())
        out.append(clean)
    return out


def _rename(con, table: str, old: list[str], new: list[str]) -> None:
    for a, b in zip(old, new):
        if a != b:
            con.execute(f'ALTER TABLE {table} RENAME COLUMN "{a.replace(chr(34), chr(34) * 2)}" '
                        f'TO "{b.replace(chr(34), chr(34) * 2)}"')


def _columns(con, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]


def _transcode(path: Path, landing: Path) -> Path:
    """A UTF-8 copy of a Windows-1252 file (bytes cp1252 leaves undefined are read as Latin-1)."""
    landing.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="utf8-", suffix=".csv", dir=landing)
    decoder = codecs.getincrementaldecoder("cp1252")(errors="latin1_fallback")
    with open(path, "rb") as src, os.fdopen(fd, "w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(_CHUNK):
            dst.write(decoder.decode(chunk))
        dst.write(decoder.decode(b"", final=True))
    return Path(name)


def _latin1_fallback(err: UnicodeDecodeError):
    return err.object[err.start:err.end].decode("latin-1"), err.end


codecs.register_error("latin1_fallback", _latin1_fallback)


_CSV_OPTIONS = ("all_varchar=true, header=true, delim=?, quote='\"', escape='\"', "
                "store_rejects=true, rejects_table=?, rejects_scan=?, "
                "normalize_names=false, auto_detect=true, strict_mode=true")


def _csv_read(source: Path, info: FileInfo, table: str, numbered: bool = True) -> tuple[str, list]:
    """read_csv of the file as text, rejected lines noted in temp tables named after `table`."""
    return (f"read_csv(?, {_CSV_OPTIONS}){' WITH ORDINALITY' if numbered else ''}",
            [str(source), info.delimiter or ",", table + "_rej_err", table + "_rej_scan"])


def collect_rejects(con, table: str) -> int:
    """`table`_rejects(_row, raw, reason) from what read_csv rejected; returns how many lines."""
    # One rejected line can yield several error rows; keep one per line.
    con.execute(f"""CREATE TEMP TABLE {table}_rejects AS
        SELECT CAST(line - 1 AS BIGINT) AS _row, any_value(csv_line) AS raw,
               'malformed line: ' || min(error_message) AS reason
        FROM {table}_rej_err GROUP BY line ORDER BY line""")
    drop_temp(con, table + "_rej_err", table + "_rej_scan")
    return con.execute(f"SELECT count(*) FROM {table}_rejects").fetchone()[0]


def record_number_sql(rejects_table: str, row: str) -> str:
    """The record number in the file of accepted row `row`: rejected records before it count too."""
    return (f"({row} + (SELECT count(*) FROM (SELECT _row - row_number() OVER (ORDER BY _row) AS before "
            f"FROM {rejects_table}) r WHERE r.before < {row}))")


def _stage_csv(con, path: Path, info: FileInfo, table: str, scratch: Path, sample: int | None = None) -> Staged:
    """The CSV as text. With `sample`, a UTF-8 file of more rows than that is staged only up to
    there, and the Staged carries the read of the whole file for a one-pass load."""
    if info.encoding == "cp1252":
        sample = None  # read through a transcoded copy, which must not outlive this call
    source = _transcode(path, scratch) if info.encoding == "cp1252" else path
    try:
        read, params = _csv_read(source, info, table)
        limit = f" LIMIT {int(sample) + 1}" if sample else ""
        try:
            con.execute(f"CREATE TEMP TABLE {table} AS SELECT CAST(ordinality AS BIGINT) AS _row, "
                        f"* EXCLUDE (ordinality) FROM {read}{limit}", params)
        except Exception as exc:  # noqa: BLE001 - DuckDB raises several types for a bad file
            raise IngestError(f"Could not read the file as CSV: {str(exc).splitlines()[0]}") from exc
        names = _columns(con, table)[1:]
        clean = _clean_headers(names)
        if sample and con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > sample:
            drop_temp(con, table + "_rej_err", table + "_rej_scan")
            _rename(con, table, names, clean)
            return Staged(table, clean, 0, 0, info, csv_source=path, csv_names=names)
        n_rejects = collect_rejects(con, table)
        if n_rejects:
            con.execute(f"UPDATE {table} SET _row = {record_number_sql(table + '_rejects', table + '._row')}")
    finally:
        if source != path:
            source.unlink(missing_ok=True)
    _rename(con, table, names, clean)
    return _finish(con, table, clean, info, n_rejects)


def stage_all(con, staged: Staged, scratch: Path) -> Staged:
    """A Staged holding every row, from one that holds only the first rows."""
    if staged.complete:
        return staged
    drop_temp(con, staged.table, staged.rejects_table)
    return _stage_csv(con, staged.csv_source, staged.info, staged.table, scratch)


def _finish(con, table: str, columns: list[str], info: FileInfo, rejects: int | None = None,
            notes: list[str] | None = None) -> Staged:
    if rejects is None:
        con.execute(f"CREATE TEMP TABLE {table}_rejects (_row BIGINT, raw VARCHAR, reason VARCHAR)")
        rejects = 0
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    if rows + rejects == 0:
        raise IngestError("The file has a header but no rows." if columns else "The file is empty.")
    return Staged(table, columns, rows, rejects, info, notes or [])


def _as_text_sql(name: str, type_: str) -> str:
    q = quote_name(name)
    upper = type_.upper()
    if upper.startswith(("STRUCT", "MAP")) or upper.endswith("[]") or upper == "JSON":
        return f"CAST(to_json({q}) AS VARCHAR)"
    if upper.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"strftime({q} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ')"
    return f"CAST({q} AS VARCHAR)"


def _stage_typed_relation(con, table: str, relation_sql: str, params: list, info: FileInfo) -> Staged:
    """Stage any typed relation (JSON, Parquet) as text: nested values become JSON text."""
    described = con.execute(f"DESCRIBE SELECT * FROM {relation_sql}", params).fetchall()
    names = [r[0] for r in described]
    clean = _clean_headers(names)
    select = ", ".join(f'{_as_text_sql(n, t)} AS "{c.replace(chr(34), chr(34) * 2)}"'
                       for (n, t, *_), c in zip(described, clean))
    con.execute(f"CREATE TEMP TABLE {table} AS SELECT CAST(ordinality AS BIGINT) AS _row, {select} "
                f"FROM {relation_sql} WITH ORDINALITY", params)
    return _finish(con, table, clean, info)


def _stage_ndjson(con, path: Path, info: FileInfo, table: str) -> Staged:
    """NDJSON line by line: a broken line is rejected on its own, the others load.

    Columns are the union of the objects' keys in order of first appearance; values are text
    (nested objects and arrays as JSON text). Row numbers are line numbers.
    """
    from engine.ingest.events import stage_ndjson_lines

    lines = table + "_lines"
    stage_ndjson_lines(con, path, lines)
    try:
        con.execute(f"""CREATE TEMP TABLE {table}_rejects AS
            SELECT row_number AS _row, raw,
                   CASE WHEN json_valid(raw) THEN 'not a JSON object' ELSE 'not valid JSON' END AS reason
            FROM {lines}
            WHERE trim(raw) <> '' AND (CASE WHEN json_valid(raw) THEN json_type(raw) END) IS DISTINCT FROM 'OBJECT'""")
        keys = [r[0] for r in con.execute(f"""
            SELECT k FROM (SELECT row_number, unnest(json_keys(raw)) AS k,
                                  generate_subscripts(json_keys(raw), 1) AS pos
                           FROM {lines} WHERE (CASE WHEN json_valid(raw) THEN json_type(raw) END) = 'OBJECT')
            GROUP BY k ORDER BY min(row_number), min(pos)""").fetchall()]
        clean = _clean_headers(keys)
        select = ", ".join(f'json_extract_string(raw, ?) AS "{c.replace(chr(34), chr(34) * 2)}"'
                           for c in clean)
        paths = ['$."' + k.replace("\\", "\\\\").replace('"', '\\"') + '"' for k in keys]
        con.execute(f"""CREATE TEMP TABLE {table} AS SELECT row_number AS _row{', ' if select else ''}{select}
            FROM {lines} WHERE (CASE WHEN json_valid(raw) THEN json_type(raw) END) = 'OBJECT'""", paths)
        rejects = con.execute(f"SELECT count(*) FROM {table}_rejects").fetchone()[0]
    finally:
        drop_temp(con, lines)
    return _finish(con, table, clean, info, rejects)


def _stage_json(con, path: Path, info: FileInfo, table: str) -> Staged:
    if info.format == "ndjson":
        return _stage_ndjson(con, path, info, table)
    fmt = "auto"
    try:
        return _stage_typed_relation(
            con, table, f"read_json(?, format='{fmt}', records=true, sample_size=-1, "
                        "maximum_object_size=67108864)", [str(path)], info)
    except IngestError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise IngestError(f"Could not read the file as {info.format.upper()}: "
                          f"{str(exc).splitlines()[0]}") from exc


def _stage_parquet(con, path: Path, info: FileInfo, table: str) -> Staged:
    try:
        return _stage_typed_relation(con, table, "read_parquet(?)", [str(path)], info)
    except Exception as exc:  # noqa: BLE001
        raise IngestError(f"Could not read the file as Parquet: {str(exc).splitlines()[0]}") from exc


def _cell_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time(0) else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@contextmanager
def _workbook(path: Path):
    """The workbook, opened from the file's bytes: an upload kept under a generated name has no
    .xlsx ending, which openpyxl would refuse when given the path."""
    import openpyxl

    with open(path, "rb") as handle:
        try:
            book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001
            raise IngestError(f"Could not read the file as an Excel workbook: {exc}") from exc
        try:
            yield book
        finally:
            book.close()


def _has_data(ws) -> bool:
    return bool(ws.max_row and ws.max_row > 0)


def sheet_names(path: str | os.PathLike) -> list[str]:
    """The names of a workbook's sheets that hold data, in the workbook's order."""
    with _workbook(Path(path)) as book:
        return [ws.title for ws in book.worksheets if _has_data(ws)]


def _stage_xlsx(con, path: Path, info: FileInfo, table: str) -> Staged:
    """The sheet named in info (else the first non-empty one); dates become ISO text, whole
    numbers lose their '.0'."""
    import pyarrow as pa

    with _workbook(path) as book:
        notes = []
        if info.sheet is not None:
            if info.sheet not in book.sheetnames:
                raise IngestError(f"The workbook has no sheet {info.sheet!r}; its sheets are: "
                                  f"{', '.join(book.sheetnames)}.")
            sheet = book[info.sheet]
        else:
            sheet = next((ws for ws in book.worksheets if _has_data(ws)), None)
        if sheet is None:
            raise IngestError("The workbook has no sheets with data.")
        if len(book.worksheets) > 1 and info.sheet is None:
            notes.append(f"Read the sheet '{sheet.title}'; the workbook has {len(book.worksheets)} sheets "
                         "(choose another with --sheet NAME, or --all-sheets).")
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise IngestError("The file is empty.")
        width = len(header)
        while width and header[width - 1] is None:
            width -= 1
        clean = _clean_headers([_cell_text(h) for h in header[:width]])
        columns: list[list] = [[] for _ in range(width)]
        extra = 0
        for row in rows:  # openpyxl yields rows; this is the library's own reading loop
            if row is None or all(v is None for v in row):
                continue
            if any(v is not None for v in row[width:]):
                extra += 1
            for i in range(width):
                columns[i].append(_cell_text(row[i]) if i < len(row) else None)
    if extra:
        notes.append(f"{extra} rows had values beyond the last headed column; those cells were not read.")
    n = len(columns[0]) if columns else 0
    arrow = pa.table({"_row": pa.array(range(1, n + 1), type=pa.int64()),
                      **{f"c{i}": pa.array(col, type=pa.string()) for i, col in enumerate(columns)}})
    view = table + "_arrow"
    con.complete()  # an earlier fetchone() (the source's row) may leave a result open; register refuses then
    con.register(view, arrow)
    try:
        select = ", ".join(f'c{i} AS "{c.replace(chr(34), chr(34) * 2)}"' for i, c in enumerate(clean))
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT _row, {select} FROM {view}")
    finally:
        con.unregister(view)
    return _finish(con, table, clean, info, notes=notes)


def stage_file(con, path: str | os.PathLike, info: FileInfo, table: str, scratch: Path,
               sample: int | None = None) -> Staged:
    """Read the file into temp table `table` (all text) and `table`_rejects.

    With `sample`, a large UTF-8 CSV is staged only for its first `sample` rows (plus one) and
    the returned Staged is not `complete`: its `source()` reads the whole file, once, when the
    load runs (see engine.ingest.load)."""
    path = Path(path)
    if info.format == "csv":
        return _stage_csv(con, path, info, table, scratch, sample)
    if info.format in ("json", "ndjson"):
        return _stage_json(con, path, info, table)
    if info.format == "parquet":
        return _stage_parquet(con, path, info, table)
    if info.format == "xlsx":
        return _stage_xlsx(con, path, info, table)
    raise IngestError(f"Unknown format {info.format!r}.")


def preview(path: str | os.PathLike, file_format: str | None = None, limit: int = 20, con=None):
    """(FileInfo, DataFrame of the first rows as text) without touching the workspace."""
    from engine.workspace import resources

    info = detect(path, file_format)
    own = con is None
    con = con or resources.scratch_connection()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            staged = stage_file(con, path, info, "_preview", Path(scratch))
            df = con.execute(f"SELECT * EXCLUDE (_row) FROM {staged.table} ORDER BY _row LIMIT ?",
                             [int(limit)]).df()
        return info, df, staged.rows_read
    finally:
        if own:
            con.close()
        else:
            drop_temp(con, "_preview", "_preview_rejects")
