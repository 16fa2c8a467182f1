"""Chapter 8 — generative adversarial networks on the bundled 8x8 handwritten digits.

A generator G turns random noise z into images; a discriminator D scores images as real or
generated.  They are trained against each other: D to tell real digits from G's output, G to
make D call its output real.  Neither ever sees a "correct" image to copy, yet G learns to draw
digits.  Recipe (DCGAN paper): binary cross-entropy on D's logits, Adam with beta1 = 0.5,
one-sided label smoothing (real targets 0.9), batch norm in G, LeakyReLU in D.

Models: an MLP GAN, a DCGAN (ConvTranspose2d generator with BatchNorm + ReLU and tanh, Conv2d
discriminator with LeakyReLU) and a class-conditional MLP GAN.  The DCGAN generates at the
data's native 8x8 (latent -> 2x2 -> 4x4 -> 8x8); nothing is upsampled.

Quality is measured, not eyeballed: a CNN trained with dlcore on the real digits labels the
generated samples; we report its mean confidence, the class histogram (mode coverage: all 10
digits present, none above 25%) and the Fréchet distance between real and generated samples in
that classifier's 128-d feature space, next to the same distance for an untrained generator.

    python python/08_gan_digits.py            # full run (~1 min)
    python python/08_gan_digits.py --quick    # a smoke run (1 epoch), weaker numbers
Saves fixed-noise sample grids every few epochs (dcgan_digits_epochNN.png), the per-step losses
(gan_digits_losses.png) and gan_digits_samples.png, in --out DIR, when matplotlib is installed.
"""
import time

import numpy as np

import dlcore as dl
import dlcore.nn as nn
import dlcore.nn.functional as F
from dlcore.data import DataLoader, TensorDataset
from dlcore.examples.common import one_thread, pyplot, run, save_figure
from dlcore.metrics import frechet_distance
from dlcore.models import DCDiscriminator, DCGenerator, MLPDiscriminator, MLPGenerator, fit_gan

LATENT = 32


class DigitsClassifier(nn.Module):
    """The judge: a small CNN; features() is its 128-d penultimate layer (the FD space)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # 8x8 -> 4x4
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 4x4 -> 2x2
            nn.Flatten(), nn.Linear(256, 128), nn.ReLU())
        self.head = nn.Linear(128, 10)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def load_images():
    """Digits as (N, 1, 8, 8) float32 in [-1, 1] (the range of the generators' tanh)."""
    X, y = dl.data.load_digits(return_X_y=True)
    return (X / 8.0 - 1.0).astype(np.float32).reshape(-1, 1, 8, 8), y


def train_classifier(X, y, epochs, seed=0):
    perm = np.random.default_rng(seed).permutation(len(X))
    te, tr = perm[:360], perm[360:]
    clf = DigitsClassifier()
    opt = dl.optim.Adam(clf.parameters(), lr=2e-3)
    loader = DataLoader(TensorDataset(X[tr], y[tr]), batch_size=64, shuffle=True,
                        generator=np.random.default_rng(seed + 1))
    dl.train.fit(clf, loader, F.cross_entropy, opt, epochs=epochs, metrics=(), verbose=0)
    clf.eval()
    with dl.no_grad():
        acc = float((clf(dl.tensor(X[te])).numpy().argmax(1) == y[te]).mean())
    return clf, acc


def judge(clf, images, real_features, want_labels=None):
    """Classifier confidence, class histogram and Fréchet distance to the real features."""
    x = images.reshape(-1, 1, 8, 8)
    with dl.no_grad():
        feats = clf.features(dl.tensor(x))
        prob = F.softmax(clf.head(feats), dim=1).numpy()
    pred = prob.argmax(1)
    hist = np.bincount(pred, minlength=10) / len(pred)
    out = {"confidence": float(prob.max(1).mean()), "class_fractions": hist.round(3).tolist(),
           "classes_present": int((hist > 0).sum()), "max_class_fraction": float(hist.max()),
           "frechet": frechet_distance(real_features, feats.numpy())}
    if want_labels is not None:
        out["label_agreement"] = float((pred == want_labels).mean())
    return out


def save_grid(images, out_dir, name, title, nrow=8, row_labels=None):
    """Images column by column, nrow to a column; row_labels name the rows on the left.  One
    mosaic image (a subplot per sample would cost matplotlib a second per grid)."""
    plt = pyplot()
    if plt is None:
        return None
    imgs = images.reshape(-1, 8, 8)
    ncol = -(-len(imgs) // nrow)
    tiles = np.full((ncol * nrow, 10, 10), -1.0, np.float32)  # blank gaps between samples
    tiles[:len(imgs), 1:9, 1:9] = imgs
    # column-major order: image i sits in row i % nrow of column i // nrow
    mosaic = tiles.reshape(ncol, nrow, 10, 10).transpose(1, 2, 0, 3).reshape(nrow * 10,
                                                                            ncol * 10)
    left = 0.7 if row_labels else 0.1  # inches kept free for the row labels
    width = ncol * 0.6 + left
    fig, ax = plt.subplots(figsize=(width, nrow * 0.6 + 0.4))
    ax.imshow(mosaic, cmap="gray_r", vmin=-1, vmax=1)
    ax.set_xticks([])
    ax.set_yticks(np.arange(nrow) * 10 + 5 if row_labels else [], row_labels or [],
                  fontsize=8)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    fig.subplots_adjust(left=left / width, right=0.98, bottom=0.02, top=1 - 0.3 / (nrow * 0.6 + 0.4))
    fig.suptitle(title, fontsize=8)
    return save_figure(fig, out_dir, name)


def save_losses(histories, out_dir):
    plt = pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(1, len(histories), figsize=(4 * len(histories), 3), squeeze=False)
    for ax, (name, h) in zip(axes[0], histories.items()):
        ax.plot(h["d_loss"], lw=0.6, label="D loss")
        ax.plot(h["g_loss"], lw=0.6, label="G loss")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out_dir, "gan_digits_losses.png")


@one_thread   # tiny models (8x8 images, batches of 64): nothing worth splitting between threads
def main(quick=False, out_dir=".", epochs: int = None, mlp_epochs: int = None,
         judge_epochs: int = None, n_eval: int = None):
    """quick is the tour's smoke run (1 epoch for each GAN and the judge, 200 samples judged);
    the tests ask for epochs=3, mlp_epochs=4, judge_epochs=3, n_eval=1000, where the bounds
    they check were measured."""
    dl.manual_seed(0)
    X, y = load_images()
    t_start = time.perf_counter()
    clf, clf_acc = train_classifier(X, y, epochs=judge_epochs or (1 if quick else 8))
    with dl.no_grad():
        real_feats = clf.features(dl.tensor(X)).numpy()
    print("judge CNN: held-out accuracy %.4f" % clf_acc)
    n_eval = n_eval or (200 if quick else 1000)
    pictures = out_dir is not None
    saved = []
    row = {"chapter": "08", "model": "DCGAN (8x8 generator)", "data": "digits 8x8",
           "metric": "DCGAN samples: judge confidence", "judge_accuracy": clf_acc,
           "generation": "8x8 native (no upsampling)"}

    # --- DCGAN ---------------------------------------------------------------------------------
    G, D = DCGenerator(LATENT, image_size=8, channels=32), DCDiscriminator(image_size=8,
                                                                            channels=32)
    untrained = judge(clf, G.sample(n_eval).numpy(), real_feats)
    fixed_noise = dl.Generator().manual_seed(123)
    z_fixed = dl.randn(64, LATENT, generator=fixed_noise)
    dc_epochs = epochs or (1 if quick else 15)

    def snapshot(epoch, hist):
        if pictures and not quick and ((epoch + 1) % 3 == 0 or epoch == 0):
            G.eval()
            with dl.no_grad():
                imgs = G(z_fixed).numpy()
            G.train()
            p = save_grid(imgs, out_dir, "dcgan_digits_epoch%02d.png" % (epoch + 1),
                          "DCGAN, fixed noise, epoch %d" % (epoch + 1))
            if p:
                saved.append(p)

    t0 = time.perf_counter()
    dc_hist = fit_gan(G, D, X, epochs=dc_epochs, lr=1e-3 if quick else 2e-4,
                      on_epoch_end=snapshot, verbose=not quick)
    dc_s = time.perf_counter() - t0
    dc = judge(clf, G.sample(n_eval).numpy(), real_feats)
    print("DCGAN: %d epochs in %.1f s (%.2f s/epoch); judge confidence %.3f, classes present %d, "
          "largest class %.1f%%" % (dc_epochs, dc_s, dc_s / dc_epochs, dc["confidence"],
                                    dc["classes_present"], 100 * dc["max_class_fraction"]))
    print("  class histogram of 1000 samples:", dc["class_fractions"])
    print("  Frechet distance in judge features: %.2f (untrained generator: %.2f, ratio %.3f)"
          % (dc["frechet"], untrained["frechet"], dc["frechet"] / untrained["frechet"]))

    # --- MLP GAN (batch norm in G) -------------------------------------------------------------
    mlp_epochs = mlp_epochs or (1 if quick else 15)
    Gm, Dm = MLPGenerator(LATENT, (128, 256), 64, batch_norm=True), MLPDiscriminator(64)
    t0 = time.perf_counter()
    mlp_hist = fit_gan(Gm, Dm, X.reshape(-1, 64), epochs=mlp_epochs, lr=1e-3)
    mlp_s = time.perf_counter() - t0
    mlp = judge(clf, Gm.sample(n_eval).numpy(), real_feats)
    print("MLP GAN: %d epochs in %.1f s; confidence %.3f, classes present %d, largest class "
          "%.1f%%, Frechet %.2f" % (mlp_epochs, mlp_s, mlp["confidence"], mlp["classes_present"],
                                    100 * mlp["max_class_fraction"], mlp["frechet"]))

    # --- conditional MLP GAN: ask for a digit, check the judge agrees ----------------------------
    Gc = MLPGenerator(LATENT, (128, 256), 64, num_classes=10, batch_norm=True)
    Dc = MLPDiscriminator(64, num_classes=10)
    fit_gan(Gc, Dc, X.reshape(-1, 64), labels=y, epochs=mlp_epochs, lr=1e-3)
    want = np.arange(n_eval) % 10
    cg = judge(clf, Gc.sample(n_eval, labels=dl.tensor(want)).numpy(), real_feats, want)
    print("conditional MLP GAN: judge agrees with the requested digit on %.1f%% of samples "
          "(confidence %.3f, Frechet %.2f)" % (100 * cg["label_agreement"], cg["confidence"],
                                               cg["frechet"]))

    if pictures and quick:  # the smoke run draws the conditional grid only
        p = save_grid(Gc.sample(50, labels=dl.tensor(np.tile(np.arange(10), 5))).numpy(),
                      out_dir, "gan_digits_conditional.png",
                      "conditional GAN (quick run): one row per requested digit", nrow=10,
                      row_labels=["digit %d" % d for d in range(10)])
        if p:
            saved.append(p)
    elif pictures:
        for p in (save_losses({"DCGAN": dc_hist, "MLP GAN": mlp_hist}, out_dir),
                  save_grid(G.sample(50).numpy().reshape(-1, 64), out_dir,
                            "gan_digits_samples.png", "DCGAN samples", nrow=10),
                  save_grid(Gc.sample(50, labels=dl.tensor(np.tile(np.arange(10), 5))).numpy(),
                            out_dir, "gan_digits_conditional.png",
                            "conditional GAN: one row per requested digit", nrow=10,
                            row_labels=["digit %d" % d for d in range(10)])):
            if p:
                saved.append(p)
    grads_ok = all(dc_hist["g_grads_finite"]) and all(dc_hist["d_grads_finite"]) and \
        all(mlp_hist["g_grads_finite"]) and all(mlp_hist["d_grads_finite"])
    row.update({
        "value": round(dc["confidence"], 4),
        "dcgan": dc, "dcgan_untrained": untrained, "mlp_gan": mlp, "conditional_gan": cg,
        "frechet_ratio": dc["frechet"] / untrained["frechet"],
        "dcgan_epochs": dc_epochs, "dcgan_seconds_per_epoch": dc_s / dc_epochs,
        "steps_logged": len(dc_hist["d_loss"]), "grads_finite": grads_ok,
        "pictures": saved, "seconds": time.perf_counter() - t_start})
    return row


if __name__ == "__main__":
    run(main)
