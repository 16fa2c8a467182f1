"""GANs: MLP and DCGAN generators/discriminators (the MLP pair optionally class-conditional),
GANTrainer (dl.train's loop with the standard alternating discriminator/generator step) and
fit_gan, which runs it on an array of samples.

Discriminators return logits (trained with binary cross-entropy on logits); generators end in
tanh, so train them on data scaled to [-1, 1].  generator.sample(n) draws in eval mode (batch
norm uses its running statistics) without recording gradients.
"""
import numpy as np

from .. import nn
from ..autograd import no_grad, sealed
from ..data import DataLoader, TensorDataset
from ..functions import cat
from ..nn import LeakyReLU
from ..nn.functional import binary_cross_entropy_with_logits as bce_with_logits
from ..nn.functional import cross_entropy
from ..nn.modules.batchnorm import _BatchNorm
from ..optim import Adam
from ..random import rng as _rng
from ..tensor import Tensor, randn
from ..train import LambdaCallback, Trainer
from ._args import class_count, positive_int

__all__ = ["MLPGenerator", "MLPDiscriminator", "DCGenerator", "DCDiscriminator", "GANTrainer",
           "fit_gan"]


def _check_noise(name, z, latent):
    if z.ndim != 2 or z.shape[1] != latent:
        raise ValueError("%s: expected noise of shape (N, %d) (latent=%d), got %s"
                         % (name, latent, latent, tuple(z.shape)))


def _check_labels(name, labels, n, num_classes):
    if not num_classes:
        if labels is not None:
            raise ValueError("%s: this model is unconditional (num_classes=0); labels must be "
                             "None" % name)
        return None
    if labels is None:
        raise ValueError("%s: this model is conditional (num_classes=%d); pass labels"
                         % (name, num_classes))
    arr = labels.numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    if arr.shape != (n,) or arr.dtype.kind not in "iu":
        raise ValueError("%s: labels must be %d integer class indices, got shape %s dtype %s"
                         % (name, n, arr.shape, arr.dtype))
    if n and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError("%s: labels must be in [0, %d), got values in [%d, %d]"
                         % (name, num_classes, arr.min(), arr.max()))
    return Tensor(arr.astype(np.int64))


class _Sampler:
    def sample(self, n, labels=None, generator=None):
        """n samples from N(0, I) noise, in eval mode, without gradients (training mode is
        restored afterwards).  generator: a dl.Generator for a reproducible draw."""
        was = self.training
        self.eval()
        try:
            with no_grad():
                dt = next(iter(self.parameters())).dtype
                z = randn(int(n), self.latent, generator=generator, dtype=dt)
                out = self(z, labels) if self.num_classes else self(z)
        finally:
            self.train(was)
        return out


class MLPGenerator(_Sampler, nn.Module):
    """latent (+ one-hot-like label embedding) -> hidden layers with LeakyReLU(0.2) (BatchNorm1d
    after each when batch_norm) -> out_features, tanh."""

    def __init__(self, latent=32, hidden=(128, 256), out_features=64, num_classes=0,
                 batch_norm=False):
        super().__init__()
        name = "MLPGenerator"
        self.latent = positive_int(name, "latent", latent)
        self.out_features = positive_int(name, "out_features", out_features)
        self.num_classes = class_count(name, num_classes)
        hidden = tuple(positive_int(name, "every hidden size", h) for h in hidden)
        if self.num_classes:
            self.label_emb = nn.Embedding(self.num_classes, self.num_classes)
        sizes = (self.latent + self.num_classes,) + hidden
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers.append(nn.Linear(a, b))
            if batch_norm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(LeakyReLU(0.2))
        layers += [nn.Linear(sizes[-1], self.out_features), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z, labels=None):
        _check_noise("MLPGenerator", z, self.latent)
        labels = _check_labels("MLPGenerator", labels, z.shape[0], self.num_classes)
        if self.num_classes:
            z = cat([z, self.label_emb(labels)], 1)
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """Flattened sample (+ label embedding) -> hidden layers with LeakyReLU(0.2) -> one logit."""

    def __init__(self, in_features=64, hidden=(256, 128), num_classes=0, dropout=0.0):
        super().__init__()
        name = "MLPDiscriminator"
        self.in_features = positive_int(name, "in_features", in_features)
        self.num_classes = class_count(name, num_classes)
        hidden = tuple(positive_int(name, "every hidden size", h) for h in hidden)
        if self.num_classes:
            self.label_emb = nn.Embedding(self.num_classes, self.num_classes)
        sizes = (self.in_features + self.num_classes,) + hidden
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), LeakyReLU(0.2)]
            if dropout:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(sizes[-1], 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x, labels=None):
        if x.ndim < 2:
            raise ValueError("MLPDiscriminator: expected a batch (N, ...), got shape %s"
                             % (tuple(x.shape),))
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.in_features:
            raise ValueError("MLPDiscriminator: expected %d features per sample, got %d"
                             % (self.in_features, x.shape[1]))
        labels = _check_labels("MLPDiscriminator", labels, x.shape[0], self.num_classes)
        if self.num_classes:
            x = cat([x, self.label_emb(labels)], 1)
        return self.net(x)


def dc_generator_layers(nn, in_features, channels, s, out_channels):
    """DCGenerator's `project` and `body` built from the layers of `nn` (this package's; the
    benchmark passes torch.nn for its twin): in_features -> (2*channels, s, s) -> (channels,
    2s, 2s) -> (out_channels, 4s, 4s)."""
    project = nn.Sequential(nn.Linear(in_features, channels * 2 * s * s, bias=False),
                            nn.BatchNorm1d(channels * 2 * s * s), nn.ReLU())
    body = nn.Sequential(
        nn.Unflatten(1, (channels * 2, s, s)),
        nn.ConvTranspose2d(channels * 2, channels, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(channels), nn.ReLU(),
        nn.ConvTranspose2d(channels, out_channels, 4, stride=2, padding=1), nn.Tanh())
    return project, body


def dc_discriminator_net(nn, in_channels, channels, s):
    """DCDiscriminator's `net` built from the layers of `nn` (as dc_generator_layers): images
    of 4s x 4s -> one logit."""
    return nn.Sequential(
        nn.Conv2d(in_channels, channels, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
        nn.Conv2d(channels, channels * 2, 4, stride=2, padding=1),
        nn.BatchNorm2d(channels * 2), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(channels * 2 * s * s, 1))


class DCGenerator(_Sampler, nn.Module):
    """DCGAN generator: latent -> Linear -> (2*channels, s, s), s = image_size // 4 ->
    ConvTranspose2d(4, stride 2) -> (channels, 2s, 2s) -> ConvTranspose2d(4, stride 2) ->
    (out_channels, image_size, image_size); BatchNorm + ReLU between, tanh output.
    image_size must be divisible by 4 (8 for the bundled digits, 28 for MNIST-sized).
    num_classes > 0 makes it conditional: a learned label embedding (num_classes wide) joins the
    noise before the projection, and forward/sample take labels."""

    def __init__(self, latent=32, image_size=28, out_channels=1, channels=32, num_classes=0):
        super().__init__()
        name = "DCGenerator"
        self.num_classes = class_count(name, num_classes)
        self.latent = positive_int(name, "latent", latent)
        self.image_size = positive_int(name, "image_size", image_size)
        self.out_channels = positive_int(name, "out_channels", out_channels)
        channels = positive_int(name, "channels", channels)
        if image_size % 4:
            raise ValueError("DCGenerator: image_size must be divisible by 4, got %d" % image_size)
        s = image_size // 4
        if self.num_classes:
            self.label_emb = nn.Embedding(self.num_classes, self.num_classes)
        self.project, self.body = dc_generator_layers(nn, self.latent + self.num_classes,
                                                      channels, s, self.out_channels)

    def forward(self, z, labels=None):
        _check_noise("DCGenerator", z, self.latent)
        labels = _check_labels("DCGenerator", labels, z.shape[0], self.num_classes)
        if self.num_classes:
            z = cat([z, self.label_emb(labels)], 1)
        return self.body(self.project(z))


class DCDiscriminator(nn.Module):
    """DCGAN discriminator: (in_channels, S, S) -> Conv2d(4, stride 2) + LeakyReLU(0.2) ->
    Conv2d(4, stride 2) + BatchNorm + LeakyReLU(0.2) -> Linear -> one logit.
    num_classes > 0 makes it a projection discriminator (Miyato & Koyama, 2018): the logit gains
    the inner product of the image's features with a learned embedding of its label (initialised
    Glorot-uniform).
    auxiliary=True (conditional only) adds a class head on the same features, as in AC-GAN
    (Odena et al., 2017): GANTrainer then trains it on the real images' labels and asks the
    generator's samples to be classified as the class they were drawn for."""

    def __init__(self, image_size=28, in_channels=1, channels=32, num_classes=0,
                 auxiliary=False):
        super().__init__()
        name = "DCDiscriminator"
        self.num_classes = class_count(name, num_classes)
        self.image_size = positive_int(name, "image_size", image_size)
        self.in_channels = positive_int(name, "in_channels", in_channels)
        channels = positive_int(name, "channels", channels)
        if image_size % 4:
            raise ValueError("DCDiscriminator: image_size must be divisible by 4, got %d"
                             % image_size)
        s = image_size // 4
        self.net = dc_discriminator_net(nn, self.in_channels, channels, s)
        if self.num_classes:
            self.label_emb = nn.Embedding(self.num_classes, channels * 2 * s * s)
            # Glorot-uniform, as in the projection discriminator's reference code: the
            # Embedding's N(0, 1) makes the projection term ~sqrt(width) times the feature
            # scale (logits near +-60 at the start), which saturates the real/fake loss
            nn.init.xavier_uniform_(self.label_emb.weight)
        self.auxiliary = bool(auxiliary)
        if self.auxiliary:
            if not self.num_classes:
                raise ValueError("DCDiscriminator: auxiliary=True needs num_classes > 0")
            self.classify = nn.Linear(channels * 2 * s * s, self.num_classes)

    def forward(self, x, labels=None, return_class_logits=False):
        """The real/fake logit (N, 1); with return_class_logits=True (auxiliary only) also the
        class logits (N, num_classes) from the same features."""
        shp = tuple(x.shape)
        if len(shp) != 4 or shp[1:] != (self.in_channels, self.image_size, self.image_size):
            raise ValueError("DCDiscriminator: expected images of shape (N, %d, %d, %d), got %s"
                             % (self.in_channels, self.image_size, self.image_size, shp))
        labels = _check_labels("DCDiscriminator", labels, shp[0], self.num_classes)
        if return_class_logits and not self.auxiliary:
            raise ValueError("DCDiscriminator: return_class_logits=True needs auxiliary=True")
        if not self.num_classes:
            return self.net(x)
        h = self.net[:-1](x)
        logit = self.net[-1](h) + (h * self.label_emb(labels)).sum(1, keepdim=True)
        return (logit, self.classify(h)) if return_class_logits else logit


def _grads_finite(module):
    for p in module.parameters():
        if p.grad is not None and not np.isfinite(p.grad.numpy()).all():
            return False
    return True


def _sigmoid_mean(logits):
    # the mean of the probabilities (not one over the mean of 1 + exp(-x)), computed without
    # overflow for logits far from zero
    x = logits.numpy().astype(np.float64)
    e = np.exp(-np.abs(x))
    return float(np.where(x >= 0, 1 / (1 + e), e / (1 + e)).mean())


def _weight(name, w):
    if isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0:
        raise ValueError("fit_gan: %s must be a number >= 0, got %r" % (name, w))
    return float(w)


class GANTrainer(Trainer):
    """dl.train's loop for a GAN: each batch one discriminator step, then one generator step.

    Batches are (real,) or, for a conditional pair, (real, labels).  Discriminator: binary
    cross-entropy on its logits, real samples -> real_label (< 1: one-sided label smoothing),
    G(z) -> 0 with G's output detached.  Generator: the non-saturating loss (D should call G(z)
    real, target 1).  Each has its own Adam(lr, betas).  Noise and fake labels are drawn from
    `rng`.  lr_decay_steps=(start, end): after step `start` both learning rates fall linearly,
    reaching 0 at step `end`.  Every step's values are kept in self.steps (d_loss, g_loss,
    d_real = mean D(x) probability, d_fake = mean D(G(z)), g_grads_finite / d_grads_finite =
    every parameter gradient finite after that step's backward); the History gets their epoch
    means."""

    automatic_optimization = False

    def __init__(self, generator, discriminator, lr=2e-4, betas=(0.5, 0.999), real_label=0.9,
                 rng=None, callbacks=(), verbose=0, class_weight=1.0, ema_decay=None,
                 g_class_weight=None, fake_class_weight=0.0, lr_decay_steps=None):
        if not 0 < real_label <= 1:
            raise ValueError("fit_gan: real_label must be in (0, 1], got %r" % (real_label,))
        self.class_weight = _weight("class_weight", class_weight)
        self.g_class_weight = (self.class_weight if g_class_weight is None
                               else _weight("g_class_weight", g_class_weight))
        self.fake_class_weight = _weight("fake_class_weight", fake_class_weight)
        if lr_decay_steps is not None:
            start, end = lr_decay_steps
            if not 0 <= start < end:
                raise ValueError("GANTrainer: lr_decay_steps must be (start, end) steps with "
                                 "0 <= start < end, got %r" % (lr_decay_steps,))
        self.lr_decay_steps, self.lr, self._step = lr_decay_steps, lr, 0
        if ema_decay is not None and not (isinstance(ema_decay, (int, float))
                                          and not isinstance(ema_decay, bool)
                                          and 0 < ema_decay < 1):
            raise ValueError("fit_gan: ema_decay must be a number in (0, 1) or None, got %r"
                             % (ema_decay,))
        self.ema_decay = ema_decay
        # the running average of the generator's weights (ema_decay set), one array per param
        self.ema = (None if ema_decay is None else
                    [p._data.copy() for p in generator.parameters()])
        self._ema_steps = 0
        super().__init__(nn.ModuleDict({"generator": generator, "discriminator": discriminator}),
                         callbacks=callbacks, verbose=verbose)
        self.generator, self.discriminator = generator, discriminator
        self.opt_g = Adam(generator.parameters(), lr=lr, betas=betas)
        self.opt_d = Adam(discriminator.parameters(), lr=lr, betas=betas)
        self.real_label, self.rng = real_label, _rng(rng)
        self.conditional = bool(getattr(generator, "num_classes", 0))
        self.steps = {k: [] for k in ("d_loss", "g_loss", "d_real", "d_fake", "g_grads_finite",
                                      "d_grads_finite")}

    def _G(self, z, labels):
        return self.generator(z, labels) if self.conditional else self.generator(z)

    def _D(self, x, labels):
        return self.discriminator(x, labels) if self.conditional else self.discriminator(x)

    def training_step(self, batch):
        real = batch[0]
        n = real.shape[0]
        if n < 2:  # batch norm needs two samples
            return None
        labels = batch[1] if self.conditional else None
        dt, g = real.dtype, self.rng
        z = Tensor(g.standard_normal((n, self.generator.latent)).astype(dt))
        fake_labels = (Tensor(g.integers(0, self.generator.num_classes, n).astype(np.int64))
                       if self.conditional else None)
        ones = Tensor(np.full((n, 1), self.real_label, dt))
        zeros = Tensor(np.zeros((n, 1), dt))
        # discriminator: real -> real_label, G(z) -> 0 (G's output detached)
        with no_grad():
            fake = self._G(z, fake_labels)
        aux = getattr(self.discriminator, "auxiliary", False)
        if aux:  # AC-GAN: the class head learns the real images' labels
            d_real, c_real = self.discriminator(real, labels, return_class_logits=True)
        else:
            d_real = self._D(real, labels)
        if aux and self.fake_class_weight:
            d_fake, c_fake = self.discriminator(fake, fake_labels, return_class_logits=True)
        else:
            d_fake = self._D(fake, fake_labels)
        d_loss = bce_with_logits(d_real, ones) + bce_with_logits(d_fake, zeros)
        if aux:
            d_loss = d_loss + self.class_weight * cross_entropy(c_real, labels)
            if self.fake_class_weight:
                d_loss = d_loss + self.fake_class_weight * cross_entropy(c_fake, fake_labels)
        self.opt_d.zero_grad()
        d_loss.backward()
        self.steps["d_grads_finite"].append(_grads_finite(self.discriminator))
        self.opt_d.step()
        # generator: make D call G(z) real (non-saturating loss, target 1)
        target = Tensor(np.ones((n, 1), dt))
        if aux:  # and the generator's samples should be classified as what they were drawn for
            g_logit, c_fake = self.discriminator(self._G(z, fake_labels), fake_labels,
                                                 return_class_logits=True)
            g_loss = (bce_with_logits(g_logit, target)
                      + self.g_class_weight * cross_entropy(c_fake, fake_labels))
        else:
            g_loss = bce_with_logits(self._D(self._G(z, fake_labels), fake_labels), target)
        self.opt_g.zero_grad()
        g_loss.backward()
        self.steps["g_grads_finite"].append(_grads_finite(self.generator))
        self.opt_g.step()
        if self.ema is not None:
            self._update_ema()
        self._step += 1
        if self.lr_decay_steps is not None:
            self._decay_lr()
        logs = {"d_loss": d_loss.item(), "g_loss": g_loss.item(), "d_real": _sigmoid_mean(d_real),
                "d_fake": _sigmoid_mean(d_fake)}
        for k, v in logs.items():
            self.steps[k].append(v)
        return logs


    def _decay_lr(self):
        start, end = self.lr_decay_steps
        lr = self.lr * min(1.0, max(0.0, (end - self._step) / (end - start)))
        for opt in (self.opt_d, self.opt_g):
            for group in opt.param_groups:
                group["lr"] = lr

    def _update_ema(self):
        # the decay ramps up from 0.1 so the first steps' random weights are soon forgotten
        self._ema_steps += 1
        d = min(self.ema_decay, (1.0 + self._ema_steps) / (10.0 + self._ema_steps))
        for avg, p in zip(self.ema, self.generator.parameters()):
            avg *= d
            avg += (1.0 - d) * p._data

    def use_average(self, batches=20, batch_size=64):
        """Put the averaged weights into the generator, then re-estimate its batch-norm
        running statistics for them (a cumulative average over `batches` batches of noise,
        in training mode, no gradients): the statistics gathered during training belong to
        the last weights, not to their average."""
        for avg, p in zip(self.ema, self.generator.parameters()):
            sealed.writable(p._data)
            np.copyto(p._data, avg)
        norms = [m for m in self.generator.modules() if isinstance(m, _BatchNorm)]
        if not norms:
            return
        saved = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
        was_training = self.generator.training
        self.generator.train()
        g, dt = self.rng, self.ema[0].dtype
        with no_grad():
            for _ in range(batches):
                z = Tensor(g.standard_normal((batch_size, self.generator.latent)).astype(dt))
                labels = (Tensor(g.integers(0, self.generator.num_classes, batch_size)
                                 .astype(np.int64)) if self.conditional else None)
                self._G(z, labels)
        for m, mom in zip(norms, saved):
            m.momentum = mom
        self.generator.train(was_training)


def fit_gan(generator, discriminator, x, labels=None, epochs=10, batch_size=64, lr=2e-4,
            betas=(0.5, 0.999), real_label=0.9, rng=None, on_epoch_end=None, verbose=False,
            class_weight=1.0, ema_decay=None, g_class_weight=None, fake_class_weight=0.0,
            lr_decay_start=None):
    """Train a GAN by alternating discriminator and generator steps on each batch (GANTrainer).

    x: real samples scaled to [-1, 1], shaped as the discriminator expects.  labels: class
    indices when the pair is conditional.  Losses: binary cross-entropy on the discriminator's
    logits; real_label < 1 is one-sided label smoothing (real targets 0.9, fake targets 0).
    The generator step uses the non-saturating loss (fake samples labelled real).  Both use
    Adam(lr, betas) — beta1 = 0.5 as in DCGAN.  rng: dl.Generator / NumPy Generator for the
    shuffling and noise (default: the dl.manual_seed stream).  on_epoch_end(epoch, history)
    runs after each epoch (e.g. to save a fixed-noise grid).  verbose: one line per epoch.
    class_weight: with an auxiliary discriminator (AC-GAN), the weight of both class losses
    (the discriminator's on real labels, the generator's on the labels it drew for);
    g_class_weight, when given, replaces it for the generator's.  fake_class_weight > 0 also
    trains the discriminator's class head on the generated samples with the labels they were
    drawn for, as in the original AC-GAN (its class loss covers real and generated images): the
    head then rewards samples that are plainly of their class, at some cost in variety.
    lr_decay_start: a fraction f in [0, 1); after that fraction of the steps both learning rates
    fall linearly, reaching 0 at the last step (a GAN's last updates then settle instead of
    leaving it wherever the adversarial game last pushed it).
    ema_decay: keep an exponential moving average of the generator's weights during training
    (the decay ramps up to ema_decay) and end with the generator holding that average, its
    batch-norm statistics re-estimated for it: averaged weights give steadier samples than the
    last step's (Yazici et al., 2019).

    Returns a history dict of per-step lists: d_loss, g_loss, d_real (mean D(x) probability),
    d_fake (mean D(G(z))), g_grads_finite and d_grads_finite (every parameter gradient finite
    after that step's backward)."""
    arr = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    if arr.ndim == 0 or len(arr) == 0:
        raise ValueError("fit_gan: the training set is empty (shape %s)" % (arr.shape,))
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float32)
    data = (arr,)
    if getattr(generator, "num_classes", 0):
        if labels is None:
            raise ValueError("fit_gan: the generator is conditional; pass labels")
        lab = np.asarray(labels.numpy() if isinstance(labels, Tensor) else labels)
        if lab.shape != (len(arr),):
            raise ValueError("fit_gan: labels must have shape (%d,), got %s"
                             % (len(arr), lab.shape))
        data = (arr, lab.astype(np.int64))
    if lr_decay_start is not None and (isinstance(lr_decay_start, bool) or not isinstance(
            lr_decay_start, (int, float)) or not 0 <= lr_decay_start < 1):
        raise ValueError("fit_gan: lr_decay_start must be a fraction in [0, 1) or None, got %r"
                         % (lr_decay_start,))
    total = int(epochs) * -(-len(arr) // int(batch_size))  # steps: batches of every epoch
    trainer = GANTrainer(generator, discriminator, lr=lr, betas=betas, real_label=real_label,
                         rng=rng, verbose=1 if verbose else 0, class_weight=class_weight,
                         ema_decay=ema_decay, g_class_weight=g_class_weight,
                         fake_class_weight=fake_class_weight,
                         lr_decay_steps=None if lr_decay_start is None
                         else (int(lr_decay_start * total), total))
    if on_epoch_end is not None:
        trainer.callbacks.append(LambdaCallback(
            on_epoch_end=lambda epoch, logs: on_epoch_end(epoch, trainer.steps)))
    # the loader shuffles with the trainer's rng, which then draws each batch's noise
    loader = DataLoader(TensorDataset(*data), batch_size=batch_size, shuffle=True,
                        generator=trainer.rng)
    trainer.fit(loader, epochs=int(epochs))
    if trainer.ema is not None:
        trainer.use_average(batch_size=batch_size)
    return trainer.steps
