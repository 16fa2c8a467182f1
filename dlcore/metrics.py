"""Metrics on model outputs and targets (Tensors or NumPy arrays), plus the streaming form that
dl.train.fit averages over the batches of an epoch."""
import numpy as np

from .tensor import Tensor

__all__ = ["accuracy", "top_k_accuracy", "mean_squared_error", "mean_absolute_error",
           "confusion_matrix", "precision_recall_f1", "roc_auc", "roc_curve",
           "precision_recall", "frechet_distance", "Metric", "MeanMetric", "get_metric"]


def _np(x):
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def _predicted_classes(output, threshold):
    """Class indices from logits (N, C), a single logit column (N,)/(N, 1), or class labels."""
    out = _np(output)
    if out.dtype.kind in "iub":
        if out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        return out.astype(np.int64)
    if out.ndim >= 2 and out.shape[-1] > 1:
        return out.argmax(axis=-1)
    if out.ndim >= 2:
        out = out[..., 0]
    return (out > threshold).astype(np.int64)


def accuracy(output, target, threshold=0.0):
    """Fraction of correct predictions.

    output: logits/probabilities (N, C) -> argmax; one column (N,) or (N, 1) -> binary, predicted
    class 1 where output > threshold (0 for logits; pass 0.5 for probabilities); integers ->
    already class labels.  target: class indices (N,) (or (N, 1) for binary).
    """
    pred = _predicted_classes(output, threshold)
    tgt = _np(target)
    if tgt.ndim == pred.ndim + 1 and tgt.shape[-1] == 1:
        tgt = tgt[..., 0]
    if tgt.shape != pred.shape:
        raise ValueError("accuracy: output gives predictions of shape %s but target has shape %s"
                         % (pred.shape, tgt.shape))
    if pred.size == 0:
        return float("nan")
    return float(np.mean(pred == tgt.astype(np.int64)))


def top_k_accuracy(output, target, k=5):
    """Fraction of samples whose target is among the k largest outputs (N, C)."""
    out, tgt = _np(output), _np(target).astype(np.int64)
    if out.ndim != 2:
        raise ValueError("top_k_accuracy: output must be (N, C), got shape %s" % (out.shape,))
    if tgt.shape != (out.shape[0],):
        raise ValueError("top_k_accuracy: target must be (%d,), got shape %s"
                         % (out.shape[0], tgt.shape))
    k = min(int(k), out.shape[1])
    if k < 1:
        raise ValueError("top_k_accuracy: k must be >= 1, got %r" % (k,))
    topk = np.argpartition(-out, k - 1, axis=1)[:, :k]
    return float(np.mean((topk == tgt[:, None]).any(axis=1))) if len(tgt) else float("nan")


def _pair(output, target, name):
    out, tgt = _np(output).astype(np.float64), _np(target).astype(np.float64)
    if out.shape != tgt.shape:
        if out.size == tgt.size:
            tgt = tgt.reshape(out.shape)
        else:
            raise ValueError("%s: output shape %s and target shape %s differ"
                             % (name, out.shape, tgt.shape))
    return out, tgt


def mean_squared_error(output, target):
    out, tgt = _pair(output, target, "mean_squared_error")
    return float(np.mean((out - tgt) ** 2))


def mean_absolute_error(output, target):
    out, tgt = _pair(output, target, "mean_absolute_error")
    return float(np.mean(np.abs(out - tgt)))


def confusion_matrix(y_true, y_pred, num_classes=None):
    """(K, K) counts: row = true class, column = predicted class.  y_pred may be logits (N, C)."""
    t = _np(y_true).astype(np.int64).reshape(-1)
    p = _predicted_classes(y_pred, 0.0).reshape(-1)
    if t.shape != p.shape:
        raise ValueError("confusion_matrix: %d true labels but %d predictions"
                         % (t.size, p.size))
    if t.size and (t.min() < 0 or p.min() < 0):
        raise ValueError("confusion_matrix: labels must be non-negative")
    k = int(max(t.max(initial=-1), p.max(initial=-1)) + 1) if num_classes is None \
        else int(num_classes)
    if t.size and max(t.max(), p.max()) >= k:
        raise ValueError("confusion_matrix: a label is >= num_classes=%d" % k)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def precision_recall_f1(y_true, y_pred, num_classes=None, average="macro"):
    """(precision, recall, f1): per class (average=None) or their unweighted mean ('macro')."""
    cm = confusion_matrix(y_true, y_pred, num_classes).astype(np.float64)
    tp = np.diag(cm)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(cm.sum(0) > 0, tp / cm.sum(0), 0.0)
        recall = np.where(cm.sum(1) > 0, tp / cm.sum(1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    if average is None:
        return precision, recall, f1
    if average != "macro":
        raise ValueError("precision_recall_f1: average must be None or 'macro', got %r"
                         % (average,))
    return float(precision.mean()), float(recall.mean()), float(f1.mean())


# ---- ranking and distribution metrics (anomaly scores, generative models) --------------------
def _binary_scores(name, y_true, scores):
    """Validated (labels as bool, scores as float64), both 1-D and the same length."""
    y = _np(y_true).reshape(-1)
    s = _np(scores).reshape(-1).astype(np.float64)
    if y.shape != s.shape:
        raise ValueError("%s: y_true and scores must have the same length, got %d and %d"
                         % (name, y.size, s.size))
    if y.size == 0:
        raise ValueError("%s: y_true and scores are empty" % name)
    if y.dtype != bool:
        bad = (y != 0) & (y != 1)
        if bad.any():
            raise ValueError("%s: y_true must be binary (0/1 or bool), got the value %r"
                             % (name, y[bad][0]))
        y = y.astype(bool)
    if not np.isfinite(s).all():
        raise ValueError("%s: scores contain NaN or infinity (%d of %d)"
                         % (name, int((~np.isfinite(s)).sum()), s.size))
    return y, s


def roc_auc(y_true, scores):
    """Area under the ROC curve: the probability that a random positive scores higher than a
    random negative, ties counting one half (the Mann-Whitney U statistic / (n_pos * n_neg)).

    y_true: binary labels (1 = positive, e.g. anomaly); scores: higher means more positive."""
    y, s = _binary_scores("roc_auc", y_true, scores)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("roc_auc: needs both positive and negative labels, got %d positives "
                         "and %d negatives" % (n_pos, n_neg))
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    # tied scores share the mean of the ranks they span (1-based)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], s.size]
    ranks = np.empty(s.size)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_curve(y_true, scores):
    """(fpr, tpr, thresholds): one point per distinct score, thresholds descending and the first
    point (0, 0) at threshold +inf; predicting positive where score >= threshold.  The
    trapezoidal area under (fpr, tpr) equals roc_auc."""
    y, s = _binary_scores("roc_curve", y_true, scores)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        raise ValueError("roc_curve: needs both positive and negative labels, got %d positives "
                         "and %d negatives" % (n_pos, y.size - n_pos))
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_run = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tps = np.cumsum(y)[last_of_run]
    fps = (last_of_run + 1) - tps
    return (np.r_[0.0, fps / fps[-1]], np.r_[0.0, tps / tps[-1]],
            np.r_[np.inf, s[last_of_run]])


def precision_recall(y_true, scores, threshold):
    """(precision, recall, f1) of predicting positive where score >= threshold (0.0 where a
    ratio has an empty denominator)."""
    y, s = _binary_scores("precision_recall", y_true, scores)
    pred = s >= float(threshold)
    tp = int((pred & y).sum())
    fp = int((pred & ~y).sum())
    fn = int((~pred & y).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def frechet_distance(features_a, features_b):
    """Fréchet distance between Gaussians fitted to two feature sets (rows are samples):
    |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2), the FID formula.

    The matrix square roots come from symmetric eigendecompositions (negative eigenvalues from
    rounding are clipped to 0), so no complex parts appear."""
    a = _np(features_a).astype(np.float64)
    b = _np(features_b).astype(np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError("frechet_distance: expected two 2-D arrays (samples, features) with "
                         "the same number of columns, got shapes %s and %s" % (a.shape, b.shape))
    if len(a) < 2 or len(b) < 2:
        raise ValueError("frechet_distance: need at least 2 samples per set, got %d and %d"
                         % (len(a), len(b)))
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("frechet_distance: features contain NaN or infinity")
    mu_a, mu_b = a.mean(0), b.mean(0)
    sa = np.atleast_2d(np.cov(a, rowvar=False))
    sb = np.atleast_2d(np.cov(b, rowvar=False))
    w, v = np.linalg.eigh(sa)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = root_a @ sb @ root_a
    inner = (inner + inner.T) * 0.5
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(inner), 0, None)).sum()
    d = float(((mu_a - mu_b) ** 2).sum() + np.trace(sa) + np.trace(sb) - 2 * tr_sqrt)
    return max(d, 0.0)


# ---- streaming metrics for the training loop ----------------------------------------------------
class Metric:
    """A metric accumulated over batches: reset(), update(output, target), compute()."""

    name = "metric"

    def reset(self):
        raise NotImplementedError

    def update(self, output, target):
        raise NotImplementedError

    def compute(self):
        raise NotImplementedError


class MeanMetric(Metric):
    """The per-sample mean of fn(output, target) over an epoch (each batch weighted by size)."""

    def __init__(self, fn, name=None):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "metric")
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0

    def update(self, output, target):
        n = len(_np(target)) if _np(target).ndim else 1
        self.total += float(self.fn(output, target)) * n
        self.count += n

    def compute(self):
        return self.total / self.count if self.count else float("nan")


def _topk(k):
    def fn(output, target):
        return top_k_accuracy(output, target, k)
    fn.__name__ = "top%d_accuracy" % k
    return fn


_ALIASES = {"accuracy": accuracy, "acc": accuracy, "mse": mean_squared_error,
            "mean_squared_error": mean_squared_error, "mae": mean_absolute_error,
            "mean_absolute_error": mean_absolute_error}
_NAMES = {"acc": "accuracy", "mean_squared_error": "mse", "mean_absolute_error": "mae"}


def get_metric(spec):
    """A Metric from a name ('accuracy', 'acc', 'top5', 'top_3_accuracy', 'mse', 'mae'), a
    function fn(output, target) -> float, or a Metric instance."""
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, str):
        key = spec.lower()
        if key in _ALIASES:
            return MeanMetric(_ALIASES[key], _NAMES.get(key, key))
        digits = "".join(c for c in key if c.isdigit())
        if key.startswith("top") and digits and key.replace("_", "").replace(
                "accuracy", "") == "top" + digits:
            return MeanMetric(_topk(int(digits)), "top%s_accuracy" % digits)
        raise ValueError("unknown metric %r (known: accuracy, top<k>, mse, mae, or pass a "
                         "function fn(output, target))" % spec)
    if callable(spec):
        return MeanMetric(spec)
    raise TypeError("a metric must be a name, a function or a dl.metrics.Metric, got %s"
                    % type(spec).__name__)
