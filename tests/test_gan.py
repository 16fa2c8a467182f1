"""GAN models, fit_gan, torch parity of the DCGAN pair, and the chapter-8 example (quick)."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn as nn
import dlcore.nn.functional as F
from dlcore import cli
from dlcore.data import DataLoader, TensorDataset
from dlcore.metrics import frechet_distance
from dlcore.models import DCDiscriminator, DCGenerator, MLPDiscriminator, MLPGenerator, fit_gan
from dlcore.train import fit


pytestmark = pytest.mark.usefixtures("one_thread")


def _digits():
    X, y = dl.data.load_digits(return_X_y=True)
    return (X / 8.0 - 1.0).astype(np.float32), y


def test_shapes_and_sampling():
    z = dl.randn(5, 16)
    assert tuple(MLPGenerator(16, (32,), 64)(z).shape) == (5, 64)
    assert tuple(MLPDiscriminator(64, (32,))(dl.randn(5, 1, 8, 8)).shape) == (5, 1)
    for size in (8, 28):
        G, D = DCGenerator(16, image_size=size, channels=8), DCDiscriminator(size, channels=8)
        img = G(z)
        assert tuple(img.shape) == (5, 1, size, size)
        assert np.abs(img.numpy()).max() <= 1.0  # tanh
        assert tuple(D(img).shape) == (5, 1)
    G = DCGenerator(16, image_size=8, channels=8)
    G.train()
    a = G.sample(6, generator=dl.Generator().manual_seed(4))
    b = G.sample(6, generator=dl.Generator().manual_seed(4))
    np.testing.assert_array_equal(a.numpy(), b.numpy())   # eval mode: deterministic
    assert G.training and not a.requires_grad              # mode restored, no graph
    cg = MLPGenerator(16, (32,), 64, num_classes=10)
    s = cg.sample(4, labels=dl.tensor(np.array([0, 3, 9, 9])))
    assert tuple(s.shape) == (4, 64)
    cd = MLPDiscriminator(64, (32,), num_classes=10)
    assert tuple(cd(s, dl.tensor(np.array([0, 3, 9, 9]))).shape) == (4, 1)


def test_bad_inputs_raise_clear_errors():
    G = DCGenerator(16, image_size=8, channels=8)
    with pytest.raises(ValueError, match=r"noise of shape \(N, 16\) \(latent=16\), got \(3, 12\)"):
        G(dl.randn(3, 12))
    with pytest.raises(ValueError, match=r"noise of shape \(N, 32\)"):
        MLPGenerator(32)(dl.randn(2, 3, 32))
    with pytest.raises(ValueError, match="divisible by 4"):
        DCGenerator(16, image_size=10)
    with pytest.raises(ValueError, match="divisible by 4"):
        DCDiscriminator(image_size=30)
    with pytest.raises(ValueError, match="latent must be a positive int"):
        DCGenerator(0, image_size=8)
    D = DCDiscriminator(image_size=8, channels=8)
    with pytest.raises(ValueError, match=r"images of shape \(N, 1, 8, 8\), got \(2, 1, 16, 16\)"):
        D(DCGenerator(16, image_size=16, channels=8)(dl.randn(2, 16)))  # size mismatch G -> D
    with pytest.raises(ValueError, match="expected 64 features per sample, got 63"):
        MLPDiscriminator(64)(dl.randn(2, 63))
    cg = MLPGenerator(8, (16,), 64, num_classes=3)
    with pytest.raises(ValueError, match="conditional.*pass labels"):
        cg(dl.randn(2, 8))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        cg(dl.randn(2, 8), dl.tensor(np.array([0, 3])))
    with pytest.raises(ValueError, match="2 integer class indices"):
        cg(dl.randn(2, 8), dl.tensor(np.array([0.0, 1.0])))
    with pytest.raises(ValueError, match="unconditional"):
        MLPGenerator(8, (16,), 64)(dl.randn(2, 8), dl.tensor(np.array([0, 1])))
    with pytest.raises(ValueError, match="training set is empty"):
        fit_gan(G, D, np.zeros((0, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match="conditional; pass labels"):
        fit_gan(cg, MLPDiscriminator(64, (16,), num_classes=3), np.zeros((4, 64), np.float32))
    with pytest.raises(ValueError, match="real_label"):
        fit_gan(G, D, np.zeros((4, 1, 8, 8), np.float32), real_label=0)


def _judge(X, y):
    """An MLP classifier on the real digits (0.99+ training accuracy), trained in ~0.3 s."""
    clf = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True,
                        generator=np.random.default_rng(0))
    fit(clf, loader, F.cross_entropy, dl.optim.Adam(clf.parameters(), lr=3e-3), epochs=15,
        metrics=(), verbose=0)
    clf.eval()
    return clf


def test_mlp_gan_quick_run_quality():
    """Seeded 8-epoch MLP GAN on digits: the judge's confidence, mode coverage and Fréchet
    distance.  Measured at seeds 0/1/2: confidence 0.81/0.82/0.79, all 10 classes (smallest
    2.3-3.7%), largest class 18/24/18%, FD ratio to the untrained generator 0.07/0.09/0.07."""
    X, y = _digits()
    clf = _judge(X, y)
    dl.manual_seed(0)
    G = MLPGenerator(32, (128, 256), 64, batch_norm=True)
    D = MLPDiscriminator(64)

    def stats(G):
        with dl.no_grad():
            s = G.sample(1000, generator=dl.Generator().manual_seed(1))
            h = clf[1](clf[0](s))
            prob = F.softmax(clf[2](h), dim=1).numpy()
            real_h = clf[1](clf[0](dl.tensor(X))).numpy()
        frac = np.bincount(prob.argmax(1), minlength=10) / 1000
        return prob.max(1).mean(), frac, frechet_distance(real_h, h.numpy())

    _, _, fd0 = stats(G)
    hist = fit_gan(G, D, X, epochs=8, lr=1e-3)
    conf, frac, fd = stats(G)
    steps = 8 * -(-len(X) // 64)
    assert len(hist["d_loss"]) == len(hist["g_loss"]) == steps  # logged per step
    assert all(hist["g_grads_finite"]) and all(hist["d_grads_finite"])
    assert len(hist["g_grads_finite"]) == steps
    assert np.isfinite(hist["d_loss"]).all() and np.isfinite(hist["g_loss"]).all()
    assert conf >= 0.7, conf
    assert (frac > 0).all() and frac.max() <= 0.3, frac
    assert fd <= 0.25 * fd0, (fd, fd0)


def test_fit_gan_conditional_and_callbacks():
    X, y = _digits()
    dl.manual_seed(1)
    G = MLPGenerator(8, (32,), 64, num_classes=10)
    D = MLPDiscriminator(64, (32,), num_classes=10)
    seen = []
    hist = fit_gan(G, D, X[:200], labels=y[:200], epochs=2, batch_size=50,
                   on_epoch_end=lambda e, h: seen.append((e, len(h["d_loss"]))))
    assert seen == [(0, 4), (1, 8)]
    assert all(hist["g_grads_finite"]) and all(hist["d_grads_finite"])
    assert all(0 < v < 1 for v in hist["d_real"] + hist["d_fake"])


def test_dcgan_matches_torch(torch):
    """Same weights in torch: forward in training mode (batch statistics) and the parameter
    gradients of a GAN loss agree."""
    from dlcore.bench.gan import torch_dcgan
    dl.manual_seed(0)
    G, D = DCGenerator(16, image_size=8, channels=8), DCDiscriminator(8, channels=8)
    tg, td = torch_dcgan(torch, G, D)
    z = np.random.default_rng(0).standard_normal((6, 16)).astype(np.float32)
    img = G(dl.tensor(z))
    logit = D(img)
    timg = tg(torch.from_numpy(z))
    tlogit = td(timg)
    np.testing.assert_allclose(img.numpy(), timg.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(logit.numpy(), tlogit.detach().numpy(), rtol=1e-4, atol=1e-4)
    dl.nn.functional.binary_cross_entropy_with_logits(logit, dl.tensor(np.ones((6, 1), np.float32))).backward()
    torch.nn.functional.binary_cross_entropy_with_logits(tlogit, torch.ones(6, 1)).backward()
    for ours, theirs in ((G, tg), (D, td)):
        tp = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=2e-3,
                                       atol=2e-5, err_msg=name)


def test_example_gan_digits_quick():
    for _, s, path in cli.list_examples():
        if s == "08_gan_digits":
            main = cli.load_example(path, s).main
    # the tour's --quick is a 1-epoch smoke run; these are the budgets the bounds were measured at
    row = main(quick=True, epochs=3, mlp_epochs=4, judge_epochs=3, n_eval=1000, out_dir=None)
    assert row["chapter"] == "08"
    # quick run (3 DCGAN epochs) measured: confidence 0.69, 10 classes, FD ratio 0.07
    assert row["dcgan"]["confidence"] >= 0.6
    assert row["dcgan"]["classes_present"] >= 9
    assert row["frechet_ratio"] <= 0.25
    assert row["grads_finite"] and row["steps_logged"] == 3 * 29
    assert row["dcgan_untrained"]["confidence"] < row["dcgan"]["confidence"]


def test_example_dcgan_fashion_quick():
    for _, s, path in cli.list_examples():
        if s == "08_dcgan_fashion":
            main = cli.load_example(path, s).main
    threads = dl.get_num_threads()
    dl.set_num_threads(1)
    try:
        row = main(quick=True, epochs=10)  # the tour's --quick is a 2-epoch smoke run
    finally:
        dl.set_num_threads(threads)
    assert row["chapter"] == "08" and row["grads_finite"]
    # the judge is chapter 4's CNN trained 4 epochs on the 512 images: 76.7% held out measured
    assert row["judge_heldout_accuracy"] > 0.65, row["judge_heldout_accuracy"]
    assert len(row["judge_heldout_per_class"]) == 10
    # ten small epochs move the samples toward the data: Fréchet ratio 0.81 measured (0.39 with
    # the generator's class loss weighted 3 and no class loss on generated images: the full
    # run's stronger class losses pay off later, see the recorded row); the judge's confidence
    # in the requested class 0.16 (untrained generator 0.10)
    assert row["frechet_ratio"] < 0.95, row["frechet_ratio"]
    assert row["dcgan"]["wanted_confidence"] > row["untrained"]["wanted_confidence"]
    t = row["truncated"]
    assert len(t["per_class"]) == 10 and abs(np.mean(t["per_class"]) - t["wanted_confidence"]) < 1e-6
    assert row["value"] == round(t["wanted_confidence"], 4)


def test_conditional_dcgan_models():
    """DCGenerator/DCDiscriminator with num_classes: labels are required and checked, the
    projection term makes the logit depend on the label, the auxiliary head gives class logits,
    and the unconditional models stay as they were (no label parameters)."""
    dl.manual_seed(0)
    G = DCGenerator(8, image_size=8, channels=4, num_classes=3)
    D = DCDiscriminator(image_size=8, channels=4, num_classes=3, auxiliary=True)
    z = dl.randn(5, 8)
    labels = dl.tensor(np.array([0, 1, 2, 0, 1]))
    x = G(z, labels)
    assert tuple(x.shape) == (5, 1, 8, 8)
    logit, cls = D(x, labels, return_class_logits=True)
    assert tuple(logit.shape) == (5, 1) and tuple(cls.shape) == (5, 3)
    other = D(x, dl.tensor(np.array([1, 2, 0, 1, 2])))
    assert not np.allclose(other.numpy(), logit.numpy())
    # the label embedding starts Glorot-uniform, so the projection term starts on the scale of
    # the plain logit (with N(0, 1) it was ~sqrt(width) times larger: |logit| near 80 at 28x28)
    wide = DCDiscriminator(image_size=28, channels=32, num_classes=10)
    bound = np.sqrt(6.0 / (10 + 64 * 7 * 7))
    w = wide.label_emb.weight.numpy()
    assert np.abs(w).max() <= bound and w.std() > 0.5 * bound / np.sqrt(3)
    noise = dl.tensor(np.random.default_rng(1).uniform(-1, 1, (32, 1, 28, 28)).astype(np.float32))
    assert np.abs(wide(noise, dl.tensor(np.arange(32) % 10)).numpy()).max() < 10
    with pytest.raises(ValueError, match="conditional"):
        G(z)
    with pytest.raises(ValueError, match="auxiliary"):
        DCDiscriminator(image_size=8, channels=4, auxiliary=True)
    with pytest.raises(ValueError, match="auxiliary=True"):
        DCDiscriminator(image_size=8, channels=4, num_classes=3)(x, labels,
                                                               return_class_logits=True)
    plain = DCGenerator(8, image_size=8, channels=4)
    assert not any("label" in k for k in plain.state_dict())
    # one AC-GAN step through fit_gan trains the auxiliary head too
    w0 = D.classify.weight.numpy().copy()
    real = np.tanh(np.random.default_rng(0).normal(size=(16, 1, 8, 8))).astype(np.float32)
    hist = fit_gan(G, D, real, labels=np.arange(16) % 3, epochs=1, batch_size=8)
    assert all(hist["g_grads_finite"]) and not np.allclose(D.classify.weight.numpy(), w0)


def test_gan_trainer_weight_average_and_class_weight():
    """ema_decay keeps the running average of G's weights with the ramped decay
    min(d, (1 + t) / (10 + t)); use_average() puts it into G and re-estimates G's batch-norm
    statistics; bad ema_decay and class_weight values are refused."""
    from dlcore.models.gan import GANTrainer
    dl.manual_seed(0)
    G = MLPGenerator(8, (16,), 12, num_classes=3, batch_norm=True)
    D = MLPDiscriminator(12, num_classes=3)
    tr = GANTrainer(G, D, ema_decay=0.5, rng=np.random.default_rng(0))
    avg = [p.numpy().copy() for p in G.parameters()]
    rng = np.random.default_rng(1)
    for t in range(1, 5):
        batch = (dl.tensor(rng.standard_normal((6, 12)).astype(np.float32)),
                 dl.tensor(rng.integers(0, 3, 6)))
        tr.training_step(batch)
        d = min(0.5, (1.0 + t) / (10.0 + t))
        avg = [d * a + (1 - d) * p.numpy() for a, p in zip(avg, G.parameters())]
    for a, e in zip(avg, tr.ema):
        np.testing.assert_allclose(e, a, rtol=1e-5, atol=1e-7)
    bn = [m for m in G.modules() if isinstance(m, dl.nn.BatchNorm1d)][0]
    before = bn.running_mean.numpy().copy()
    tr.use_average()
    for a, p in zip(avg, G.parameters()):
        np.testing.assert_allclose(p.numpy(), a, rtol=1e-5, atol=1e-7)
    after = bn.running_mean.numpy()
    assert np.isfinite(after).all() and not np.allclose(after, before)
    assert bn.momentum == 0.1  # restored after the cumulative re-estimate
    with pytest.raises(ValueError, match="ema_decay"):
        GANTrainer(G, D, ema_decay=1.0)
    with pytest.raises(ValueError, match="class_weight"):
        GANTrainer(G, D, class_weight=-1)


def test_gan_trainer_class_loss_weights():
    """With an auxiliary discriminator: the discriminator's loss is its real/fake loss plus
    class_weight times its class loss on the real labels plus fake_class_weight times its class
    loss on the generated samples' drawn labels; the generator's adds g_class_weight (default
    class_weight) times the class loss of its samples.  Recomputed here from copies of the
    weights before the step and the noise the trainer draws."""
    import copy
    from dlcore.models.gan import GANTrainer
    bce = F.binary_cross_entropy_with_logits
    rng = np.random.default_rng(0)
    real = dl.tensor(np.tanh(rng.standard_normal((6, 1, 8, 8))).astype(np.float32))
    labels = dl.tensor(np.array([0, 1, 2, 0, 1, 2]))
    for cw, gcw, fcw in ((2.0, None, 0.0), (2.0, 7.0, 0.5), (0.0, 3.0, 4.0)):
        dl.manual_seed(0)
        G = DCGenerator(8, image_size=8, channels=4, num_classes=3)
        D = DCDiscriminator(image_size=8, channels=4, num_classes=3, auxiliary=True)
        G0, D0 = copy.deepcopy(G), copy.deepcopy(D)
        tr = GANTrainer(G, D, real_label=1.0, rng=np.random.default_rng(5), class_weight=cw,
                        g_class_weight=gcw, fake_class_weight=fcw)
        twin = np.random.default_rng(5)
        z = dl.tensor(twin.standard_normal((6, 8)).astype(np.float32))
        drawn = dl.tensor(twin.integers(0, 3, 6).astype(np.int64))
        logs = tr.training_step((real, labels))
        ones = dl.tensor(np.ones((6, 1), np.float32))
        zeros = dl.tensor(np.zeros((6, 1), np.float32))
        with dl.no_grad():
            fake = G0(z, drawn)
            d_real, c_real = D0(real, labels, return_class_logits=True)
            d_fake, c_fake = D0(fake, drawn, return_class_logits=True)
            d_want = (bce(d_real, ones) + bce(d_fake, zeros) + cw * F.cross_entropy(c_real, labels)
                      + fcw * F.cross_entropy(c_fake, drawn)).item()
            g_logit, g_cls = D(G0(z, drawn), drawn, return_class_logits=True)  # D after its step
            g_want = (bce(g_logit, ones) + (cw if gcw is None else gcw)
                      * F.cross_entropy(g_cls, drawn)).item()
        assert abs(logs["d_loss"] - d_want) < 1e-4 * max(1.0, abs(d_want)), (cw, gcw, fcw)
        assert abs(logs["g_loss"] - g_want) < 1e-4 * max(1.0, abs(g_want)), (cw, gcw, fcw)
    # with no class loss on real images, the class on generated ones still trains D's head
    dl.manual_seed(0)
    G = DCGenerator(8, image_size=8, channels=4, num_classes=3)
    D = DCDiscriminator(image_size=8, channels=4, num_classes=3, auxiliary=True)
    w0 = D.classify.weight.numpy().copy()
    GANTrainer(G, D, class_weight=0.0, fake_class_weight=1.0).training_step((real, labels))
    assert not np.allclose(D.classify.weight.numpy(), w0)
    for name in ("g_class_weight", "fake_class_weight"):
        with pytest.raises(ValueError, match=name):
            GANTrainer(G, D, **{name: -0.5})
        with pytest.raises(ValueError, match=name):
            fit_gan(G, D, real.numpy(), labels=labels.numpy(), **{name: True})


def test_gan_trainer_lr_decay():
    """lr_decay_steps=(start, end): both learning rates stay at lr up to step `start`, then fall
    linearly to 0 at step `end`; fit_gan's lr_decay_start is checked."""
    from dlcore.models.gan import GANTrainer
    dl.manual_seed(0)
    G, D = MLPGenerator(4, (8,), 6), MLPDiscriminator(6, (8,))
    tr = GANTrainer(G, D, lr=0.01, rng=np.random.default_rng(0), lr_decay_steps=(2, 6))
    real = (dl.tensor(np.random.default_rng(1).standard_normal((8, 6)).astype(np.float32)),)
    seen = []
    for _ in range(7):
        tr.training_step(real)
        seen.append([g["lr"] for opt in (tr.opt_d, tr.opt_g) for g in opt.param_groups])
    want = [0.01, 0.01, 0.0075, 0.005, 0.0025, 0.0, 0.0]
    for lrs, w in zip(seen, want):
        np.testing.assert_allclose(lrs, [w, w], atol=1e-12)
    with pytest.raises(ValueError, match="lr_decay_steps"):
        GANTrainer(G, D, lr_decay_steps=(5, 5))
    for bad in (1.0, -0.1, True):
        with pytest.raises(ValueError, match="lr_decay_start"):
            fit_gan(G, D, real[0].numpy(), lr_decay_start=bad)


def test_gan_trainer_logs_mean_probabilities():
    """d_real / d_fake are the means of the discriminator's probabilities on that step's real
    and fake batches (before its update), also for logits far from zero."""
    from dlcore.models.gan import GANTrainer
    dl.manual_seed(0)
    G = MLPGenerator(4, (8,), 6)
    D = MLPDiscriminator(6, (8,))
    with dl.no_grad():  # logits of both signs, some large enough to overflow a naive exp(-x)
        D.net[-1].weight._data[...] *= 400.0
    tr = GANTrainer(G, D, rng=np.random.default_rng(3))
    real = dl.tensor(np.random.default_rng(4).standard_normal((32, 6)).astype(np.float32))
    with dl.no_grad():
        logits = D(real).numpy().astype(np.float64)
    assert logits.min() < -50 and logits.max() > 50, logits
    want = float(np.mean(0.5 * (1 + np.tanh(logits / 2))))  # sigmoid, overflow-free
    with np.errstate(over="raise"):
        logs = tr.training_step((real,))
    assert abs(logs["d_real"] - want) < 1e-9, (logs["d_real"], want)
    assert 0 <= logs["d_fake"] <= 1
