"""Chapter 8 (extra) — a conditional DCGAN on the bundled Fashion-MNIST subset (28x28, 2,000
images): ask for a class, get a picture of it.

The generator (dl.models.DCGenerator with num_classes=10) takes noise and a class label (a
learned embedding joined to the noise): latent -> 7x7 -> 14x14 -> 28x28 through ConvTranspose2d,
batch norm, ReLU and tanh.  The discriminator (DCDiscriminator with num_classes=10,
auxiliary=True) judges real-or-fake with a projection term (the image's features against an
embedding of the label it should show) and also classifies the image, as in AC-GAN (Odena et
al., 2017): its class head learns the classes of the real images (weight 3 against the
real/fake loss) and of the generated ones, by the labels they were drawn for (weight 1), and the
generator is asked to make samples the head gives the class they were drawn for (weight 10: its
samples should be plainly of their class).  Binary cross-entropy on the logits, Adam(lr 5e-4,
beta1 = 0.5), one-sided label smoothing, batches of 32, 40 epochs on one kernel thread.  Samples
are drawn with the truncation trick (noise scaled by 0.6: fewer odd samples, less variety).
Every sample shown or scored is kept: none is selected or rejected.

The judge is chapter 4's Fashion CNN (python/fashion_cnn.py), trained by chapter 4's recipe on
the same 2,000 images; it never takes part in training the GAN or in choosing samples.  Scored:
its mean probability of the requested class on a fixed set of 1,000 samples (100 per class, not
the ones in the figure), per class next to its confidence on real images of that class (the
training images and the 1,000 held-out ones), and the Fréchet distance between real and
generated samples in its 128-d penultimate features, next to the same distance for the
untrained generator.  The bar asked of the samples is 0.8 in every class; the held-out column
shows where the classifier itself does not give real images of a class that much.

Measured (full runs, 40 epochs each, at load average about 11 on the shared 2-core machine; CPU
time of training by time.process_time() at one kernel thread; the judge 87.1% on the held-out
images).  Per class, the judge's mean confidence in the requested class at truncation 0.6
(untruncated in brackets), against its confidence on held-out real images of the class:

    class         seed 0        seed 1        held-out real
    T-shirt/top   0.91 (0.81)   0.83 (0.71)   0.72
    Trouser       1.00 (1.00)   1.00 (1.00)   0.96
    Pullover      0.86 (0.78)   0.87 (0.79)   0.73
    Dress         1.00 (0.98)   1.00 (0.97)   0.83
    Coat          0.87 (0.78)   0.81 (0.69)   0.66
    Sandal        1.00 (0.99)   0.97 (0.97)   0.91
    Shirt         0.91 (0.84)   0.83 (0.78)   0.59
    Sneaker       0.88 (0.87)   0.98 (0.97)   0.90
    Bag           1.00 (1.00)   1.00 (0.99)   0.91
    Ankle boot    0.98 (0.95)   0.99 (0.97)   0.91
    mean          0.939 (0.901) 0.927 (0.883) 0.813
    at 0.8        10 (8)        10 (6)        6

Seed 0 is the tour's run (117.0 s of CPU time training; the whole example 1053 s on the wall
clock at that load); seed 1 (`--seed 1`) took 116.5 s.  The judge's top class agrees with the
requested one on 99.6% of the truncated samples in both runs; Fréchet distance in its features
8.7% (seed 0) and 6.9% of the untrained generator's.  Truncation is needed: without it 8 and 6
classes reach 0.8.  To the eye the sandals are the weakest row (broken straps), though the judge
is sure of them.
Results vary from run to run: the same losses scored the same way in the experiments that chose
them (a copy of this training loop, same seeds) gave weakest classes 0.86 (seed 0) and 0.81
(seed 1); a third seed was not measured.
Tried and not kept, all scored the same way (truncation 0.6, 99 to 116 s of CPU time each):
the previous losses (both class losses 3, none on generated images): 9 of 10 classes at seed 0
(shirt 0.77); the generator's class loss 10 without the one on generated images: 10 of 10 at
seed 0 (weakest 0.82), 8 of 10 at seed 1 (shirt 0.74, coat 0.78); the generator's 20 with the
one on generated images: 7 of 10 at seed 1 (pullover 0.58); the kept losses with both learning
rates falling linearly to 0 over the second half (fit_gan's lr_decay_start=0.5): 10 of 10 at
seed 0 (weakest 0.85), 9 of 10 at seeds 1 (coat 0.76) and 2 (pullover 0.71); that decay with
the generator's class loss 10 alone: 9 of 10 at seed 1 (shirt 0.797).  Earlier, under
this example's former small judge: class-conditional batch norm, both class losses 10, weight
averaging of the generator, label smoothing of the class head.  Rejection sampling with the
GAN's own discriminator was not needed and is not used.

    python python/08_dcgan_fashion.py            # full run (about 2 minutes of CPU time)
    python python/08_dcgan_fashion.py --seed 1   # the GAN from another seed (same judge)
    python python/08_dcgan_fashion.py --quick    # a smoke run (2 epochs): no figure
Saves dcgan_fashion_samples.png (one labelled row per class, in --out DIR) when matplotlib is
installed.
"""
import os
import time

import numpy as np

import dlcore as dl
import dlcore.nn.functional as F
from dlcore.data import FASHION_MNIST_CLASSES
from dlcore.examples.common import pyplot, run, save_figure
from dlcore.examples.fashion_cnn import to_input, train_fashion_cnn
from dlcore.metrics import frechet_distance
from dlcore.models import DCDiscriminator, DCGenerator, fit_gan

LATENT = 64
PSI = 0.6  # noise scale for the judged samples and the figure (the truncation trick)
BAR = 0.8  # the judge's mean confidence in the requested class, asked of every class
BATCH = 32  # twice the updates of batch 64 for about the same time per epoch
CLASS_WEIGHT = 3.0  # the discriminator's class loss on real images, against the real/fake loss
G_CLASS_WEIGHT = 10.0  # the generator's class loss: its samples should be plainly their class
FAKE_CLASS_WEIGHT = 1.0  # the discriminator's class loss on generated images (as in AC-GAN)


def load_images(n=None, test=False):
    """Training (or the held-out test) images, uint8 (N, 28, 28), with labels."""
    train, held_out = dl.data.load_fashion_mnist()
    X, y = held_out if test else train
    return (X, y) if n is None else (X[:n], y[:n])


def to_tanh(X8):
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [-1, 1], the generator's tanh range."""
    return (X8.astype(np.float32) / 127.5 - 1.0).reshape(-1, 1, 28, 28)


class Judge:
    """Chapter 4's Fashion-MNIST CNN (python/fashion_cnn.py), trained by chapter 4's recipe on
    the same images, in eval mode; it reads images in [-1, 1].  features() is its 128-d
    penultimate layer (the Fréchet space)."""

    def __init__(self, X_uint8, y, epochs, width):
        # chapter 4's seed: the judge is chapter 4's model whatever seed the GAN is trained with
        dl.manual_seed(0)
        self.model = train_fashion_cnn(X_uint8, y, epochs, width, verbose=0)
        self.model.eval()

    def _input(self, images):
        return dl.tensor(to_input((np.asarray(images) + 1.0) * 127.5))

    def features(self, images):
        m = self.model
        with dl.no_grad():
            return m.head[:-1](m.block3(m.block2(m.block1(self._input(images))))).numpy()

    def probabilities(self, images, features=None):
        f = self.features(images) if features is None else features
        with dl.no_grad():
            return F.softmax(self.model.head[-1](dl.tensor(f)), dim=1).numpy()


def per_class_confidence(prob, y):
    """Mean probability of the true (requested) class, per class."""
    p = prob[np.arange(len(y)), y]
    return [float(p[y == c].mean()) for c in range(10)]


def score(judge, images, real_features, wanted):
    """Judge statistics of generated images drawn for classes `wanted`: its mean probability of
    the requested class (per class and overall), how often its top class agrees, its mean top
    confidence, the class histogram, and the Fréchet distance to the real images in its
    features."""
    feats = judge.features(images)
    prob = judge.probabilities(images, feats)
    hist = np.bincount(prob.argmax(1), minlength=10) / len(prob)
    per_class = per_class_confidence(prob, wanted)
    return {"confidence": float(prob.max(1).mean()), "classes_present": int((hist > 0).sum()),
            "max_class_fraction": float(hist.max()),
            "frechet": frechet_distance(real_features, feats),
            "per_class": per_class, "wanted_confidence": float(np.mean(per_class)),
            "agreement": float((prob.argmax(1) == wanted).mean())}


def samples(G, labels, psi, seed=5):
    """G's images for `labels` from noise scaled by psi (psi < 1: the truncation trick, fewer
    odd samples, less variety)."""
    z = np.random.default_rng(seed).standard_normal((len(labels), LATENT)) * psi
    G.eval()
    with dl.no_grad():
        out = G(dl.tensor(z.astype(np.float32)), dl.tensor(labels)).numpy()
    G.train()
    return out


def save_grid(images, per_class, held_out, out_dir, psi):
    """One row per class, labelled with its name and the judge's confidence in it (on the
    scored samples, and on held-out real images of the class)."""
    plt = pyplot()
    if plt is None:
        return None
    cols = len(images) // 10
    fig, axes = plt.subplots(10, cols, figsize=(cols * 0.9 + 2.2, 10 * 0.9 + 0.8))
    for r in range(10):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(images[r * cols + c].reshape(28, 28), cmap="gray_r", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel("%s\n%.2f (real %.2f)" % (FASHION_MNIST_CLASSES[r], per_class[r],
                                                         held_out[r]),
                              rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle("conditional DCGAN, one row per requested class, truncation %.1f\n"
                 "beside each: the chapter-4 classifier's mean confidence in the class on "
                 "generated (and held-out real) images" % psi, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir, "dcgan_fashion_samples.png")


def main(quick=False, out_dir=".", epochs: int = None, n_images: int = None,
         judge_epochs: int = None, n_eval: int = None, seed: int = 0):
    """quick: 2 epochs on 512 images, a narrower judge trained 2 epochs, 250 samples judged
    (the test asks for 10 epochs of that); the tour's smoke run passes smaller budgets.
    seed: the GAN's initial weights, shuffling and noise (the judge always uses chapter 4's)."""
    t_start = time.perf_counter()
    X8, y = load_images(n_images or (512 if quick else None))
    X = to_tanh(X8)
    # the judge: chapter 4's classifier and recipe (10 epochs, width 16 on the subset); it
    # never takes part in training the GAN or in choosing the samples shown or scored
    judge = Judge(X8, y, epochs=judge_epochs or (4 if quick else 10), width=16)
    X8_test, y_test = load_images(n_images, test=True)
    prob_test = judge.probabilities(to_tanh(X8_test))
    held_out = per_class_confidence(prob_test, y_test)
    held_out_acc = float((prob_test.argmax(1) == y_test).mean())
    real_feats = judge.features(X)
    real_conf = per_class_confidence(judge.probabilities(X, real_feats), y)
    dl.manual_seed(seed)
    channels = 16 if quick else 32
    G = DCGenerator(LATENT, image_size=28, channels=channels, num_classes=10)
    D = DCDiscriminator(image_size=28, channels=channels, num_classes=10, auxiliary=True)
    n_eval = n_eval or (250 if quick else 1000)
    wanted = np.arange(n_eval) % 10
    untrained = score(judge, samples(G, wanted, 1.0), real_feats, wanted)
    epochs = epochs or (2 if quick else 40)
    t0, c0 = time.perf_counter(), time.process_time()
    # one kernel thread: layers this small gain no time from a second one (measured here: the
    # same wall time per step, 2.3 times the CPU time)
    with dl.num_threads(1):
        hist = fit_gan(G, D, X, labels=y, epochs=epochs, batch_size=BATCH, lr=5e-4,
                       class_weight=CLASS_WEIGHT, g_class_weight=G_CLASS_WEIGHT,
                       fake_class_weight=FAKE_CLASS_WEIGHT, verbose=not quick)
    seconds, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    trained = score(judge, samples(G, wanted, 1.0), real_feats, wanted)
    truncated = score(judge, samples(G, wanted, PSI), real_feats, wanted)
    ratio = trained["frechet"] / untrained["frechet"]
    at_bar = [c for c in range(10) if truncated["per_class"][c] >= BAR]
    real_at_bar = int(sum(v >= BAR for v in held_out))
    print("judge: chapter 4's CNN, %.1f%% on the %d held-out images" % (
        100 * held_out_acc, len(y_test)))
    print("conditional DCGAN (projection discriminator + auxiliary classifier) on %d "
          "Fashion-MNIST images, seed %d: %d epochs in %.1f s (%.1f s of CPU time)"
          % (len(X), seed, epochs, seconds, train_cpu))
    print("judge's confidence in the requested class: %.3f (noise truncated to %.1f: %.3f); "
          "top class agrees on %.1f%% (%.1f%%)" % (
              trained["wanted_confidence"], PSI, truncated["wanted_confidence"],
              100 * trained["agreement"], 100 * truncated["agreement"]))
    print("per class, %d samples each: the judge's confidence in the requested class (noise "
          "truncated to %.1f, and untruncated), next to its confidence on real images of that "
          "class (training, held-out):" % (n_eval // 10, PSI))
    for c, name in enumerate(FASHION_MNIST_CLASSES):
        print("  %-12s %.2f (%.2f)   real %.2f, held-out %.2f%s" % (
            name, truncated["per_class"][c], trained["per_class"][c], real_conf[c],
            held_out[c], "" if truncated["per_class"][c] >= BAR else "  below %.1f" % BAR))
    print("%d of 10 classes at the %.1f bar (%d untruncated); the judge itself reaches it on "
          "held-out real images of %d" % (len(at_bar), BAR,
                                           sum(v >= BAR for v in trained["per_class"]),
                                           real_at_bar))
    print("Frechet distance in judge features: %.2f (untrained generator %.2f, ratio %.3f)"
          % (trained["frechet"], untrained["frechet"], ratio))
    pictures, figures = [], {}
    if not quick and out_dir is not None:
        p = save_grid(samples(G, np.repeat(np.arange(10), 10), PSI, seed=11),
                      truncated["per_class"], held_out, out_dir, PSI)
        if p:
            pictures.append(p)
            figures[os.path.basename(p)] = (
                "Conditional DCGAN (AC-GAN with a projection discriminator), %d epochs on the "
                "%s-image Fashion-MNIST subset: one row per requested class, 10 samples each, "
                "drawn with the truncation trick (noise z ~ N(0, I) scaled by %.1f); no "
                "sample is selected. Beside each class: the chapter-4 Fashion CNN's mean "
                "confidence in it, on a fixed set of 100 other samples per class drawn the "
                "same way (%d of 10 classes at %.1f, weakest %.2f), and in brackets on the "
                "held-out real images of the class (%d of 10 at %.1f)." % (
                    epochs, format(len(X), ","), PSI, len(at_bar), BAR,
                    min(truncated["per_class"]), real_at_bar, BAR))
    return {"chapter": "08", "model": "conditional DCGAN 28x28 (AC-GAN)",
            "data": "Fashion-MNIST subset",
            "metric": "chapter-4 CNN's confidence in the requested class (truncation %.1f)"
                      % PSI,
            "value": round(truncated["wanted_confidence"], 4),
            "min_class_confidence": min(truncated["per_class"]),
            "classes_at_bar": len(at_bar), "bar": BAR, "seed": seed, "psi": PSI,
            "judge_heldout_accuracy": held_out_acc,
            "judge_heldout_per_class": held_out, "judge_classes_at_bar": real_at_bar,
            "judge_train_per_class": real_conf,
            "real_confidence": float(np.mean(held_out)),
            "frechet_ratio": ratio, "dcgan": trained, "truncated": truncated,
            "untrained": untrained, "epochs": epochs, "seconds_per_epoch": seconds / epochs,
            "grads_finite": all(hist["g_grads_finite"]) and all(hist["d_grads_finite"]),
            "train_cpu_seconds": train_cpu, "pictures": pictures, "figures": figures,
            "seconds": time.perf_counter() - t_start}


if __name__ == "__main__":
    run(main)
