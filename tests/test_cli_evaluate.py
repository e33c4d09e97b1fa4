"""`fastlogit evaluate` reports fastlogit.calibration's reliability table, ECE, Brier and the
log-loss decomposition, each checked against a direct NumPy computation."""
import numpy as np
import pytest

from fastlogit import calibration, cli


def _direct_table(hit, conf, n_bins):
    """Per bin [lo, hi) (last closed): count, mean predicted, observed, NumPy only."""
    edges = np.linspace(0, 1, n_bins + 1)
    out = []
    for k in range(n_bins):
        inside = (conf >= edges[k]) & ((conf < edges[k + 1]) if k < n_bins - 1 else
                                       (conf <= 1.0))
        c = int(inside.sum())
        out.append((c, conf[inside].mean() if c else np.nan, hit[inside].mean() if c else np.nan))
    return out


def test_binary_metrics_are_the_calibration_module_and_numpy():
    rng = np.random.default_rng(0)
    p1 = rng.beta(0.7, 0.7, 500)
    y = np.where(rng.random(500) < p1 ** 1.3, 3.0, -1.0)  # miscalibrated on purpose
    res = cli.evaluate_probabilities(y, np.column_stack([1 - p1, p1]), np.array([-1.0, 3.0]),
                                     n_bins=7)
    hit = (y == 3.0).astype(float)
    direct = _direct_table(hit, p1, 7)
    assert [r[2] for r in res["calibration"]] == [c for c, _, _ in direct]
    for row, (c, pm, ob) in zip(res["calibration"], direct):
        if c:
            assert row[3] == pytest.approx(pm, abs=1e-12)
            assert row[4] == pytest.approx(ob, abs=1e-12)
            assert row[5] <= row[4] <= row[6]  # the Wilson interval holds the frequency
        else:
            assert np.isnan(row[3]) and np.isnan(row[5])
    ece = sum(c / 500 * abs(ob - pm) for c, pm, ob in direct if c)
    assert res["ece"] == pytest.approx(ece, abs=1e-12)
    assert res["brier"] == pytest.approx(np.mean((p1 - hit) ** 2), abs=1e-12)
    dec = res["decomposition"]
    assert dec["refinement"] + dec["calibration"] + dec["within_bin"] == pytest.approx(
        res["log_loss"], abs=1e-12)
    assert dec["calibration"] > 0
    assert dec == calibration.log_loss_decomposition(hit, p1, n_bins=7)


def test_multiclass_table_is_of_the_confidence():
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.ones(3), 300)
    y = rng.integers(0, 3, 300).astype(float)
    res = cli.evaluate_probabilities(y, P, np.array([0.0, 1.0, 2.0]), n_bins=4)
    hit = (P.argmax(axis=1) == y).astype(float)
    direct = _direct_table(hit, P.max(axis=1), 4)
    assert [r[2] for r in res["calibration"]] == [c for c, _, _ in direct]
    assert res["ece"] == pytest.approx(
        sum(c / 300 * abs(ob - pm) for c, pm, ob in direct if c), abs=1e-12)
    assert res["decomposition"] is None


def test_evaluate_prints_ece_decomposition_and_intervals(capsys, tmp_path):
    model = tmp_path / "m.npz"
    assert cli.main(["fit", "builtin:breast_cancer", "-o", str(model), "-q"]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", str(model), "builtin:breast_cancer", "--bins", "4"]) == 0
    out = capsys.readouterr().out
    import fastlogit
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    p1 = fastlogit.load(model).predict_proba(X)[:, 1]
    ece = calibration.expected_calibration_error(y, p1, n_bins=4)
    line = next(l for l in out.splitlines() if l.startswith("ECE"))
    assert float(line.split()[1]) == pytest.approx(ece, abs=1e-6)
    assert "refinement" in out and "within-bin" in out
    table = calibration.reliability_table(y, p1, n_bins=4)
    rows = [l for l in out.splitlines() if l[:1] == "[" and "," in l.split()[0]]
    shown = [r for r in rows if r.split()[3] != "-"]
    assert len(shown) == len(table.count)
    for r, lo, hi in zip(shown, table.ci_low, table.ci_high):
        cells = r.replace("[", " ").replace("]", " ").replace(",", " ").split()
        assert float(cells[-2]) == pytest.approx(lo, abs=1e-4)
        assert float(cells[-1]) == pytest.approx(hi, abs=1e-4)
