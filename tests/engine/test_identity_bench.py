"""The identity benchmark's generator carries the truth (its smoke run is checked in
tests/test_bench_smoke.py)."""
from bench.identity_people import generate, pairwise_scores


def test_generator_is_seeded_and_labelled():
    a, b = generate(500, seed=3), generate(500, seed=3)
    assert a.equals(b) and len(a) == 500
    assert a["person_id"].nunique() < 500                  # people appear in several records
    assert pairwise_scores(a["person_id"], a["person_id"])["f1"] == 1.0
    assert pairwise_scores(a["person_id"], range(len(a)))["recall"] == 0.0
    with_contacts = generate(300, seed=3, contacts=True)
    assert {"email", "phone"} <= set(with_contacts.columns)


def test_diagnostic_reports_blocking_recall_and_calibration(capsys):
    from bench import identity_diagnose

    assert identity_diagnose.main(["--n", "2000", "--curve"]) == 0
    out = capsys.readouterr().out
    recall = float(out.split("blocking recall ")[1].split()[0])
    assert 0.9 < recall <= 1.0
    assert "calibration: score band" in out and "threshold 0.95:" in out
