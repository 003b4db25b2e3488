"""Where the identity benchmark loses accuracy: blocking recall per rule, pair-level errors,
and clustering errors (direct wrong edges vs. transitive chains).

    python -m bench.identity_diagnose --n 100000
    python -m bench.identity_diagnose --febrl febrl3      # a public set (bench/bench_identity_public.py)

Runs the resolver's steps one by one on the benchmark data (no reviewer), keeping the
intermediate tables, and compares each against the truth. A development tool, not part of
the suite.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--febrl", help="run on this FEBRL set instead of the generated people")
    parser.add_argument("--no-cuts", action="store_true")
    parser.add_argument("--curve", action="store_true", help="cluster F1 at several thresholds")
    parser.add_argument("--pattern", help="first,last,dob,location levels of pairs to print")
    parser.add_argument("--false", action="store_true", help="with --pattern: wrong merges instead of misses")
    parser.add_argument("--show", type=int, default=0, help="print this many missed true pairs")
    args = parser.parse_args(argv)

    from bench.bench_identity import _data, load_people
    from bench.identity_people import pairwise_scores
    from engine.identity import fuzzy, graph
    from engine.identity import model as M
    from engine.identity.blocking import RULES, candidate_pairs
    from engine.identity.features import compute_features
    from engine.identity.records import build_and_guard
    from engine.identity.settings import load_settings
    from engine.workspace import open_workspace

    if args.febrl:
        from bench.bench_identity_public import as_contacts, load
        df = as_contacts(load(args.febrl))
    else:
        df = _data(args.n, False)
    with tempfile.TemporaryDirectory() as tmp:
        ws = open_workspace(Path(tmp) / "cdp.duckdb")
        load_people(ws, df)
        settings = load_settings(ws)
        with ws.transaction() as con:
            t = time.perf_counter()
            build_and_guard(con, settings)
            recs = con.execute("SELECT rec_id, source_record_id FROM identity_records ORDER BY rec_id").df()
            truth = df.set_index("source_record_id")["person_id"]
            person = truth.loc[recs["source_record_id"]].to_numpy()
            t1 = time.perf_counter()
            n_pairs = candidate_pairs(con, full=True)
            t2 = time.perf_counter()
            f = compute_features(con)
            g = M.levels(f)
            t3 = time.perf_counter()
            params = fuzzy.fit_model(con, f, g)
            s = fuzzy.score(con, settings, f, g, params)
            t4 = time.perf_counter()
            p_before = s["p"].copy()
            cuts = fuzzy._cluster_consistency(con, settings, f, g, s, params) if not args.no_cuts else []
            t5 = time.perf_counter()
            print(f"records {len(recs):,}  pairs {n_pairs:,}  build {t1 - t:.1f}s block {t2 - t1:.1f}s "
                  f"features {t3 - t2:.1f}s model {t4 - t3:.1f}s")
            print("lambda", params["lambda"], "u first", np.round(params["u"]["first_name"], 5),
                  "m first", np.round(params["m"]["first_name"], 3))

            # Blocking recall.
            sizes = pd.Series(person).value_counts().to_numpy(dtype=np.int64)
            true_pairs = int((sizes * (sizes - 1) // 2).sum())
            same = person[f["l"]] == person[f["r"]]
            print(f"\nblocking recall {same.sum() / true_pairs:.4f} ({same.sum():,} of {true_pairs:,}); "
                  f"candidate precision {same.mean():.4f}")
            merged = s["p"] >= float(settings["high_threshold"])
            for bit, name in enumerate(RULES):
                has = (f["rules"] & (1 << bit)) != 0
                only = f["rules"] == (1 << bit)
                print(f"  {name:28s} pairs {has.sum():>10,}  true {same[has].sum():>8,}  "
                      f"only-this true {same[only].sum():>6,}  only-this pairs {only.sum():>8,}  "
                      f"only-this merged true {(same & only & merged).sum():>6,} false {(~same & only & merged).sum():>5,}")

            print("\nm: EM estimate vs truth among candidates; u")
            for k, name in enumerate(M.NAMES[:4]):
                lv = g[same, k]
                lv = lv[lv >= 0]
                truth_m = np.bincount(lv, minlength=len(M.COMPARISONS[name])) / max(len(lv), 1)
                print(f"  {name:14s} em {np.round(params['m'][name], 4)}  true {np.round(truth_m, 4)}  "
                      f"u {np.round(params['u'][name], 5)}")
            if len(cuts):
                lab0 = graph.components(len(recs), f["l"][p_before >= float(settings["high_threshold"])],
                                        f["r"][p_before >= float(settings["high_threshold"])])
                sc0 = pairwise_scores(person, lab0)
                print(f"\nbefore cuts: P {sc0['precision']:.4f} R {sc0['recall']:.4f} F1 {sc0['f1']:.4f}")
                print(f"\nchain cuts: {len(cuts):,} in {t5 - t4:.1f}s; true-pair edges cut {same[cuts].sum():,}, "
                      f"false edges cut {(~same[cuts]).sum():,}")
            # Pair-level.
            high = float(settings["high_threshold"])
            p = s["p"]
            pred = p >= high
            print(f"\npair level @ {high}: TP {np.sum(pred & same):,} FP {np.sum(pred & ~same):,} "
                  f"FN(blocked) {np.sum(~pred & same):,}")

            # Clustering.
            labels = graph.components(len(recs), f["l"][pred], f["r"][pred])
            sc = pairwise_scores(person, labels)
            print(f"cluster: P {sc['precision']:.4f} R {sc['recall']:.4f} F1 {sc['f1']:.4f}")
            if args.curve:
                for t in (0.5, 0.7, 0.8, 0.9, 0.95, 0.98):
                    lt = graph.components(len(recs), f["l"][p >= t], f["r"][p >= t])
                    st = pairwise_scores(person, lt)
                    print(f"  threshold {t}: P {st['precision']:.4f} R {st['recall']:.4f} F1 {st['f1']:.4f}")
            edges_ = np.array([0.0, 0.01, 0.1, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0001])
            which = np.digitize(p_before, edges_) - 1
            print("calibration: score band, pairs, share true")
            for k in range(len(edges_) - 1):
                in_band = which == k
                if in_band.any():
                    print(f"  [{edges_[k]:.3f}, {min(edges_[k + 1], 1):.3f}): {in_band.sum():>9,}  "
                          f"scored {p_before[in_band].mean():.3f}  true {same[in_band].mean():.3f}")
            band = (p_before >= 0.5) & (p_before < high)
            bd = pd.DataFrame(g[band, :4], columns=M.NAMES[:4])
            bd["true"] = same[band]
            top = bd.groupby(M.NAMES[:4])["true"].agg(["size", "mean"]).sort_values("size", ascending=False)
            print("pairs scored 0.5 .. threshold: size and share true, by pattern")
            print(top.head(15).to_string())
            # False merged pairs: direct (a scored edge above threshold) vs transitive.
            fr = pd.DataFrame({"t": person, "c": labels})
            grp = fr.groupby("c")["t"].nunique()
            bad = grp[grp > 1]
            print(f"clusters with >1 person: {len(bad):,}; size dist of those:",
                  fr[fr["c"].isin(bad.index)].groupby("c").size().describe()[["mean", "max"]].to_dict())
            fp_edges = pred & ~same
            lv = pd.DataFrame(g[fp_edges], columns=M.NAMES)
            print("levels of false positive edges (top patterns):")
            print(lv.value_counts().head(12).to_string())
            fn_scored = ~pred & same
            lv = pd.DataFrame(g[fn_scored], columns=M.NAMES)
            lv["p>0.6"] = p[fn_scored] >= 0.6
            print("levels of true pairs scored below threshold (top patterns):")
            print(lv.value_counts().head(15).to_string())

            if args.pattern:
                want = np.array([int(x) for x in args.pattern.split(",")])
                hit = np.flatnonzero(np.all(g[:, :4] == want, axis=1) & (same if not args.false else ~same)
                                     & ((p < high) if not args.false else (p >= high)))
                view = con.execute("SELECT rec_id, n_first, n_first_key, n_last, n_dob, n_postcode, n_address "
                                   "FROM identity_records ORDER BY rec_id").df()
                print(f"\npattern {args.pattern}: {len(hit)}")
                pat = np.all(g[:, :4] == want, axis=1)
                for label, mask in (("true", pat & same), ("false", pat & ~same)):
                    fs_ = f["first_sim"][mask]
                    print(label, mask.sum(), "first_sim quantiles", np.round(np.nanquantile(fs_, [.1, .25, .5, .75, .9]), 3) if mask.sum() else "")
                for k in hit[:args.show or 10]:
                    print(round(float(p[k]), 4), view.iloc[f["l"][k]].to_dict(), "\n   ", view.iloc[f["r"][k]].to_dict())
                return 0
            if args.show:
                got = set(zip(f["l"][same].tolist(), f["r"][same].tolist()))
                rec_by_person = pd.DataFrame({"rec": np.arange(len(person)), "t": person})
                pairs = rec_by_person.merge(rec_by_person, on="t")
                pairs = pairs[pairs.rec_x < pairs.rec_y]
                missed = [(a, b) for a, b in zip(pairs.rec_x, pairs.rec_y) if (a, b) not in got]
                print(f"\nmissed true pairs: {len(missed):,}")
                view = con.execute("SELECT rec_id, n_first, n_first_key, n_last, n_dob, n_postcode, n_address "
                                   "FROM identity_records ORDER BY rec_id").df()
                rng = np.random.default_rng(0)
                for k in rng.choice(len(missed), min(args.show, len(missed)), replace=False):
                    a, b = missed[k]
                    print(view.iloc[a].to_dict(), "\n   ", view.iloc[b].to_dict())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
