"""dl.metrics ranking/distribution metrics against brute-force references (no sklearn)."""
import numpy as np
import pytest

from dlcore import metrics as M


def _auc_pairs(y, s):
    """The definition: over every (positive, negative) pair, 1 if the positive scores higher,
    1/2 on a tie."""
    pos, neg = s[y == 1], s[y == 0]
    total = 0.0
    for p in pos:
        total += (p > neg).sum() + 0.5 * (p == neg).sum()
    return total / (len(pos) * len(neg))


@pytest.mark.parametrize("n,levels", [(2, None), (7, None), (33, 3), (100, None), (257, 5)])
def test_roc_auc_matches_pair_counting(n, levels):
    rng = np.random.default_rng(n)
    y = rng.integers(0, 2, n)
    y[0], y[-1] = 0, 1
    s = rng.normal(size=n) + y * 0.7
    if levels:  # many ties
        s = np.round(s * levels / 3) / levels
    assert M.roc_auc(y, s) == pytest.approx(_auc_pairs(y, s), abs=1e-12)
    # trapezoidal area under roc_curve gives the same number (ties become diagonal segments)
    fpr, tpr, thr = M.roc_curve(y, s)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(_auc_pairs(y, s), abs=1e-12)
    assert thr[0] == np.inf and np.all(np.diff(thr) < 0)
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


def test_roc_curve_points_are_threshold_rates():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 50).astype(bool)
    y[:2] = [True, False]
    s = rng.integers(0, 10, 50).astype(float)
    fpr, tpr, thr = M.roc_curve(y, s)
    for f, t, th in zip(fpr[1:], tpr[1:], thr[1:]):
        pred = s >= th
        assert t == pytest.approx((pred & y).sum() / y.sum())
        assert f == pytest.approx((pred & ~y).sum() / (~y).sum())


def test_roc_auc_extremes_and_errors():
    assert M.roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert M.roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0
    assert M.roc_auc([0, 1, 0, 1], [1, 1, 1, 1]) == 0.5
    assert M.roc_auc(np.array([False, True]), np.array([0.0, 1.0])) == 1.0
    with pytest.raises(ValueError, match="both positive and negative"):
        M.roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="same length"):
        M.roc_auc([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="empty"):
        M.roc_auc([], [])
    with pytest.raises(ValueError, match="binary"):
        M.roc_auc([0, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="NaN"):
        M.roc_auc([0, 1], [0.1, float("nan")])
    with pytest.raises(ValueError, match="both positive and negative"):
        M.roc_curve([0, 0], [0.1, 0.2])


def test_precision_recall_counts():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    s = np.array([0.9, 0.8, 0.3, 0.7, 0.1, 0.2, 0.6, 0.5])
    p, r, f1 = M.precision_recall(y, s, 0.5)
    # predicted positive: 0.9 0.8 0.7 0.6 0.5 -> tp 3 (0.9, 0.8, 0.5), fp 2; fn 1 (0.3)
    assert p == pytest.approx(3 / 5) and r == pytest.approx(3 / 4)
    assert f1 == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert M.precision_recall(y, s, 2.0) == (0.0, 0.0, 0.0)  # nothing predicted positive
    assert M.precision_recall(y, s, -1.0)[1] == 1.0


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    # 1-D: (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2 with the sample moments
    x, y = rng.normal(1.0, 2.0, (500, 1)), rng.normal(-0.5, 0.5, (300, 1))
    want = (x.mean() - y.mean()) ** 2 + (x.std(ddof=1) - y.std(ddof=1)) ** 2
    assert M.frechet_distance(x, y) == pytest.approx(want, rel=1e-10)
    # general covariances: against a square root from scipy-free Denman-Beavers iteration
    b = rng.normal(size=(600, 4)) @ rng.normal(size=(4, 4)) + 0.3
    c = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4))
    sb, sc = np.cov(b, rowvar=False), np.cov(c, rowvar=False)
    Y, Z = sb @ sc, np.eye(4)
    for _ in range(60):
        Y, Z = 0.5 * (Y + np.linalg.inv(Z)), 0.5 * (Z + np.linalg.inv(Y))
    want = ((b.mean(0) - c.mean(0)) ** 2).sum() + np.trace(sb + sc) - 2 * np.trace(Y)
    assert M.frechet_distance(b, c) == pytest.approx(want, rel=1e-8)
    assert M.frechet_distance(b, c) == pytest.approx(M.frechet_distance(c, b), rel=1e-8)


def test_frechet_distance_errors():
    with pytest.raises(ValueError, match="same number of columns"):
        M.frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        M.frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        M.frechet_distance(np.full((3, 2), np.nan), np.zeros((5, 2)))
