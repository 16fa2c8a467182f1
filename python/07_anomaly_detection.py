"""Chapter 7 — anomaly detection by reconstruction error.

An autoencoder trained only on "normal" data learns to rebuild what normal looks like; anything
else comes back distorted, so the reconstruction error is an anomaly score.  No anomalies are
needed for training — they are usually rare and unlabelled in practice.

1. Images: train a dense autoencoder on the digits 0-4 only; score held-out 0-4 (normal) and all
   5-9 (unseen classes = anomalies).
2. Time series: a noisy two-tone periodic signal; the model is a 1-D convolutional autoencoder
   over sliding windows of 32 steps trained on a clean stretch.  A second stretch gets injected
   anomalies (spikes, level shifts, flat-lined sensors, a frequency change); each window is
   scored, and a window is anomalous if it contains an injected point.

Reported: ROC-AUC (threshold-free) and precision/recall at a threshold set, without looking at
any anomaly, to the 95th percentile of held-out normal scores.

    python python/07_anomaly_detection.py            # full run
    python python/07_anomaly_detection.py --quick    # a few seconds
Saves anomaly_roc.png (both ROC curves, in --out DIR) when matplotlib is installed.
"""
import time

import numpy as np

import dlcore as dl
import dlcore.nn as nn
from dlcore.examples.common import one_thread, pyplot, run, save_figure
from dlcore.metrics import precision_recall, roc_auc, roc_curve
from dlcore.models import (Autoencoder, DenseAutoencoder, anomaly_threshold, fit_autoencoder,
                           reconstruction_error)

WINDOW = 32


def digits_experiment(quick, seed=0):
    X, y = dl.data.load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    perm = np.random.default_rng(seed).permutation(len(X))
    X, y = X[perm], y[perm]
    normal = X[y < 5]
    train, val, test_normal = normal[:600], normal[600:700], normal[700:]
    anomalies = X[y >= 5]
    model = DenseAutoencoder(64, hidden=(128, 64), latent=8)
    hist = fit_autoencoder(model, train, epochs=20 if quick else 30, lr=2e-3)
    threshold = anomaly_threshold(reconstruction_error(model, val), 0.95)
    x = np.concatenate([test_normal, anomalies])
    labels = np.r_[np.zeros(len(test_normal)), np.ones(len(anomalies))]
    scores = reconstruction_error(model, x)
    p, r, f1 = precision_recall(labels, scores, threshold)
    return {"auc": roc_auc(labels, scores), "precision": p, "recall": r, "f1": f1,
            "threshold": threshold, "train_losses": hist, "n_normal": len(test_normal),
            "n_anomalies": len(anomalies), "roc": roc_curve(labels, scores)}


def make_series(n, rng):
    t = np.arange(n)
    return (np.sin(2 * np.pi * t / 40) + 0.5 * np.sin(2 * np.pi * t / 13 + 1)
            + 0.1 * rng.standard_normal(n)).astype(np.float32)


def inject_anomalies(x, rng, count=24):
    """Returns a corrupted copy and the per-point anomaly labels."""
    x = x.copy()
    label = np.zeros(len(x), bool)
    starts = np.sort(rng.choice(np.arange(100, len(x) - 100, 150), count, replace=False))
    for k, s in enumerate(starts):
        kind = k % 4
        if kind == 0:      # a single spike
            x[s] += rng.choice([-1.0, 1.0]) * 1.2
            label[s] = True
        elif kind == 1:    # a short level shift
            x[s:s + 10] += 0.8
            label[s:s + 10] = True
        elif kind == 2:    # a stuck sensor
            x[s:s + 15] = x[s]
            label[s:s + 15] = True
        else:              # a burst at the wrong frequency
            tt = np.arange(20)
            x[s:s + 20] = np.sin(2 * np.pi * tt / 8) + 0.1 * rng.standard_normal(20)
            label[s:s + 20] = True
    return x, label


def windows(x, step):
    idx = np.arange(0, len(x) - WINDOW + 1, step)[:, None] + np.arange(WINDOW)
    return x[idx][:, None, :], idx   # (N, 1, WINDOW) for Conv1d


class Upsample1d(nn.Module):
    """Nearest-neighbour x2 along the last axis of (N, C, L), via the 2-D Upsample."""

    def __init__(self):
        super().__init__()
        self.up = nn.Upsample(scale_factor=(2, 1))

    def forward(self, x):
        return self.up(x.unsqueeze(-1)).squeeze(-1)


def conv1d_autoencoder(latent=12):
    c = WINDOW // 4
    encoder = nn.Sequential(
        nn.Conv1d(1, 16, 5, stride=2, padding=2), nn.ReLU(),
        nn.Conv1d(16, 32, 5, stride=2, padding=2), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * c, latent))
    decoder = nn.Sequential(
        nn.Linear(latent, 32 * c), nn.ReLU(), nn.Unflatten(1, (32, c)),
        Upsample1d(), nn.Conv1d(32, 16, 5, padding=2), nn.ReLU(),
        Upsample1d(), nn.Conv1d(16, 1, 5, padding=2))
    # Autoencoder checks once that decoder(encoder(x)) has x's shape (1, WINDOW)
    return Autoencoder(encoder, decoder, input_shape=(1, WINDOW))


def series_experiment(quick, seed=0):
    rng = np.random.default_rng(seed)
    train = make_series(3000 if quick else 6000, rng)
    val = make_series(1000, rng)
    test, point_label = inject_anomalies(make_series(6000, rng), rng)
    model = conv1d_autoencoder()
    hist = fit_autoencoder(model, windows(train, 4)[0], epochs=6 if quick else 10, lr=2e-3)
    threshold = anomaly_threshold(reconstruction_error(model, windows(val, 1)[0]), 0.95)
    w, idx = windows(test, 1)
    labels = point_label[idx].any(axis=1)
    scores = reconstruction_error(model, w)
    p, r, f1 = precision_recall(labels, scores, threshold)
    return {"auc": roc_auc(labels, scores), "precision": p, "recall": r, "f1": f1,
            "threshold": threshold, "train_losses": hist, "n_windows": len(labels),
            "anomalous_fraction": float(labels.mean()), "roc": roc_curve(labels, scores)}


def save_roc(results, out_dir):
    plt = pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    for name, res in results.items():
        fpr, tpr, _ = res["roc"]
        ax.plot(fpr, tpr, label="%s (AUC %.3f)" % (name, res["auc"]))
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("reconstruction-error anomaly scores", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir, "anomaly_roc.png")


@one_thread   # small models: one thread beats two
def main(quick=False, out_dir="."):
    dl.manual_seed(0)
    t0 = time.perf_counter()
    dig = digits_experiment(quick)
    print("digits (train on 0-4; %d held-out normal, %d anomalies 5-9): ROC-AUC %.3f; at the "
          "95th percentile of normal validation scores precision %.3f, recall %.3f, F1 %.3f"
          % (dig["n_normal"], dig["n_anomalies"], dig["auc"], dig["precision"], dig["recall"],
             dig["f1"]))
    ser = series_experiment(quick)
    print("time series (1-D conv autoencoder, %d windows of %d, %.1f%% anomalous): ROC-AUC %.3f; "
          "precision %.3f, recall %.3f, F1 %.3f" % (ser["n_windows"], WINDOW,
                                                   100 * ser["anomalous_fraction"], ser["auc"],
                                                   ser["precision"], ser["recall"], ser["f1"]))
    pictures = []
    if not quick and out_dir is not None:
        p = save_roc({"digits 5-9 vs 0-4": dig, "series windows": ser}, out_dir)
        if p:
            pictures.append(p)
    strip = ("roc", "train_losses")
    return {"chapter": "07", "model": "autoencoder reconstruction error",
            "data": "digits 0-4 vs 5-9; injected-anomaly series",
            "metric": "ROC-AUC (digits)", "value": round(dig["auc"], 4),
            "digits": {k: v for k, v in dig.items() if k not in strip},
            "series": {k: v for k, v in ser.items() if k not in strip},
            "digits_train_losses": dig["train_losses"], "series_train_losses": ser["train_losses"],
            "pictures": pictures, "seconds": time.perf_counter() - t0}


if __name__ == "__main__":
    run(main)
