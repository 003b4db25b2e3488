"""`cdp rfm` and `cdp clv fit | predict | validate`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.cli.output import actor, print_json, print_table, progress_printer, workspace
from engine.value import (
    DEFAULT_MODEL,
    MODEL_CHOICES,
    DataTooThin,
    fit_clv,
    parse_date,
    predict_clv,
    score_rfm,
    validate_clv,
)

PREDICT_COLUMNS = ["profile_id", "customer_id", "predicted_purchases", "p_alive", "predicted_clv"]


def _date(text: str):
    try:
        return parse_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _model_args(p) -> None:
    p.add_argument("--model", choices=list(MODEL_CHOICES), default=DEFAULT_MODEL,
                   help="auto (default: the best of the others on this data's own holdout), or pin "
                        "one: bgnbd, mbgnbd, pareto, ml (gradient boosting)")


def _value_args(p) -> None:
    p.add_argument("--margin", type=float, default=1.0, help="profit share of revenue (default 1)")
    p.add_argument("--discount-rate", type=float, default=0.1, help="annual discount rate (default 0.1)")


def register(subparsers) -> None:
    p = subparsers.add_parser("rfm", help="score recency, frequency, monetary value and segments")
    p.add_argument("--as-of", type=_date, help="score as of this date (default: last order date)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_rfm)

    p = subparsers.add_parser("clv", help="predicted purchases, churn risk and lifetime value")
    sub = p.add_subparsers(dest="clv_command", metavar="ACTION", required=True)

    f = sub.add_parser("fit", help="fit the model as of a date and store scores per profile")
    f.add_argument("--as-of", type=_date, help="default: last order date")
    f.add_argument("--horizon-days", type=int, default=365)
    _model_args(f)
    _value_args(f)
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=cmd_fit)

    r = sub.add_parser("predict", help="write one row per customer to a CSV file")
    r.add_argument("--as-of", type=_date, required=True)
    r.add_argument("--horizon-days", type=int, required=True)
    r.add_argument("--out", required=True, help="CSV file to write")
    _model_args(r)
    _value_args(r)
    r.set_defaults(func=cmd_predict)

    v = sub.add_parser("validate", help="fit before a date, predict after it, report accuracy")
    v.add_argument("--calibration-end", type=_date, required=True)
    v.add_argument("--holdout-end", type=_date, help="default: last order date")
    _model_args(v)
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_validate)


def cmd_rfm(args) -> int:
    summary = score_rfm(workspace(), actor(), args.as_of, progress=progress_printer("rfm"))
    if args.json:
        print_json(summary)
        return 0
    print(f"RFM scores for {summary['customers']} customers as of {summary['as_of']}.")
    print_table([(name, n, f"{summary['revenue'].get(name, 0):,.2f}")
                 for name, n in summary["segments"].items()], ["segment", "customers", "revenue"])
    return 0


def cmd_fit(args) -> int:
    result = fit_clv(workspace(), actor(), args.as_of, model=args.model,
                     horizon_days=args.horizon_days, margin=args.margin,
                     discount_rate=args.discount_rate, progress=progress_printer("clv fit"))
    if args.json:
        print_json(result)
        return 0
    if result["status"] == "too_thin":
        print(result["message"])
        print(f"Stored RFM scores for {result['rfm']['customers']} customers as of {result['as_of']} instead.")
        return 0
    params = ", ".join(f"{k}={v:.4g}" for part in result["params"].values()
                       if isinstance(part, dict) for k, v in part.items() if isinstance(v, float))
    print(f"{result['model_name']} fitted as of {result['as_of']} on {result['customers']} customers "
          f"({result['repeat_customers']} repeat buyers); run {result['run_id']}.")
    if params:
        print(f"Parameters: {params}")
    if result.get("choice"):
        print(result["choice"]["reason"])
        _print_candidates(result["choice"]["candidates"])
    print(f"Next {result['horizon_days']} days: {result['predicted_purchases']:.1f} purchases, "
          f"lifetime value {result['predicted_clv']:.2f}; mean p_alive {result['mean_p_alive']:.3f}.")
    spread = result.get("predicted_clv_range") or {}
    if spread.get("total_low") is not None:
        print(f"{spread['level']} range of the lifetime value: {spread['total_low']:.2f} .. "
              f"{spread['total_high']:.2f} ({spread['note']}).")
    return 0


def cmd_predict(args) -> int:
    try:
        frame = predict_clv(workspace(), actor(), args.as_of, args.horizon_days, model=args.model,
                            margin=args.margin, discount_rate=args.discount_rate,
                            progress=progress_printer("clv predict"))
    except DataTooThin as exc:
        print(f"cdp: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame[PREDICT_COLUMNS].to_csv(out, index=False)
    print(f"Wrote {len(frame)} customers to {out}.")
    return 0


def cmd_validate(args) -> int:
    try:
        result = validate_clv(workspace(), actor(), args.calibration_end, args.holdout_end,
                              model=args.model, progress=progress_printer("clv validate"))
    except DataTooThin as exc:
        if args.json:
            print(json.dumps({"status": "too_thin", "message": str(exc)}))
        else:
            print(f"cdp: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print_json(result)
        return 0
    naive = result["naive"]
    print(f"{result['model_name']}: fitted on orders up to {result['calibration_end']}, "
          f"predicting {result['calibration_end']} .. {result['holdout_end']} "
          f"({result['horizon_days']} days) for {result['customers']} customers.")

    def fmt(v):
        return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    if result.get("choice"):
        print(result["choice"]["reason"])
    rows = [(key, fmt(result[key]), fmt(naive[key])) for key in
            ("predicted_total", "actual_total", "mae", "spearman", "top_decile_capture",
             "predicted_revenue", "actual_revenue", "revenue_error", "revenue_mae",
             "revenue_top_decile_capture")]
    print_table(rows, ["measure", "model", "naive (own past rate)"])
    print(result["summary"])
    print()
    print_table([(r["calibration_purchases"], r["customers"], f"{r['predicted']:.3f}", f"{r['actual']:.3f}")
                 for r in result["by_frequency"]],
                ["repeat purchases before", "customers", "mean predicted", "mean actual"])
    return 0


def _print_candidates(candidates: dict) -> None:
    """One line per backtested model: its figures, or why it could not run."""
    def fmt(v):
        return "n/a" if v is None else f"{v:.3f}"

    print_table([(m, "could not run: " + f["error"][:60], "", "", "") if "error" in f else
                 (m, fmt(f["spearman"]), fmt(f["mae"]), fmt(f["top_decile_capture"]), "n/a" if f["revenue_error"] is None else f"{f['revenue_error']:+.1%}")
                 for m, f in candidates.items()],
                ["model", "spearman", "mae", "top-decile capture", "revenue vs actual"])


def register_lift(audience_actions) -> None:
    """`cdp audience lift`, added to the audience command's actions by engine/cli/activation.py."""
    from engine.value.lift import DEFAULT_WINDOW_DAYS

    p = audience_actions.add_parser("lift", help="exposed vs holdout: orders and revenue after a push")
    p.add_argument("segment", nargs="?", help="segment id, or tag:NAME (default: every audience with a holdout)")
    p.add_argument("--window-days", type=int, default=DEFAULT_WINDOW_DAYS,
                   help=f"days after each person's push or hold to count orders in (default {DEFAULT_WINDOW_DAYS})")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_lift)


def cmd_lift(args) -> int:
    from engine.activation.audiences import parse_source, source_key
    from engine.value.lift import audience_lift

    source = source_key(*parse_source(args.segment)) if args.segment else None
    results = audience_lift(workspace(), actor(), args.window_days, source)
    if args.json:
        print_json(results)
        return 0
    if not results:
        print("No audience has been pushed with a holdout yet (cdp audience sync ... --holdout PCT).")
        return 0
    for r in results:
        print(f"{r['source']}: {r['verdict']}")
        print(f"  {r['exposed']:,} exposed, {r['holdout']:,} held out, {r['waiting']:,} still inside "
              f"the {r['window_days']}-day window.")
    return 0
