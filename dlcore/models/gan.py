"""GANs: MLP and DCGAN generators/discriminators (the MLP pair optionally class-conditional)
and fit_gan, the standard alternating training loop.

Discriminators return logits (trained with binary cross-entropy on logits); generators end in
tanh, so train them on data scaled to [-1, 1].  generator.sample(n) draws in eval mode (batch
norm uses its running statistics) without recording gradients.
"""
import numpy as np

from .. import nn
from ..autograd import no_grad
from ..functions import cat
from ..tensor import Tensor, randn
from ..nn import LeakyReLU
from ..nn.functional import binary_cross_entropy_with_logits as bce_with_logits

__all__ = ["MLPGenerator", "MLPDiscriminator", "DCGenerator", "DCDiscriminator", "fit_gan"]


def _pos(name, what, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise ValueError("%s: %s must be a positive int, got %r" % (name, what, v))
    return int(v)


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
    arr = labels._data if isinstance(labels, Tensor) else np.asarray(labels)
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
        self.latent = _pos(name, "latent", latent)
        self.out_features = _pos(name, "out_features", out_features)
        self.num_classes = int(num_classes)
        if self.num_classes < 0:
            raise ValueError("MLPGenerator: num_classes must be >= 0, got %r" % (num_classes,))
        hidden = tuple(_pos(name, "every hidden size", h) for h in hidden)
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
        self.in_features = _pos(name, "in_features", in_features)
        self.num_classes = int(num_classes)
        if self.num_classes < 0:
            raise ValueError("MLPDiscriminator: num_classes must be >= 0, got %r"
                             % (num_classes,))
        hidden = tuple(_pos(name, "every hidden size", h) for h in hidden)
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


class DCGenerator(_Sampler, nn.Module):
    """DCGAN generator: latent -> Linear -> (2*channels, s, s), s = image_size // 4 ->
    ConvTranspose2d(4, stride 2) -> (channels, 2s, 2s) -> ConvTranspose2d(4, stride 2) ->
    (out_channels, image_size, image_size); BatchNorm + ReLU between, tanh output.
    image_size must be divisible by 4 (8 for the bundled digits, 28 for MNIST-sized)."""

    num_classes = 0

    def __init__(self, latent=32, image_size=28, out_channels=1, channels=32):
        super().__init__()
        name = "DCGenerator"
        self.latent = _pos(name, "latent", latent)
        self.image_size = _pos(name, "image_size", image_size)
        self.out_channels = _pos(name, "out_channels", out_channels)
        channels = _pos(name, "channels", channels)
        if image_size % 4:
            raise ValueError("DCGenerator: image_size must be divisible by 4, got %d" % image_size)
        s = image_size // 4
        self.project = nn.Sequential(nn.Linear(self.latent, channels * 2 * s * s, bias=False),
                                     nn.BatchNorm1d(channels * 2 * s * s), nn.ReLU())
        self.body = nn.Sequential(
            nn.Unflatten(1, (channels * 2, s, s)),
            nn.ConvTranspose2d(channels * 2, channels, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels), nn.ReLU(),
            nn.ConvTranspose2d(channels, self.out_channels, 4, stride=2, padding=1), nn.Tanh())

    def forward(self, z):
        _check_noise("DCGenerator", z, self.latent)
        return self.body(self.project(z))


class DCDiscriminator(nn.Module):
    """DCGAN discriminator: (in_channels, S, S) -> Conv2d(4, stride 2) + LeakyReLU(0.2) ->
    Conv2d(4, stride 2) + BatchNorm + LeakyReLU(0.2) -> Linear -> one logit."""

    def __init__(self, image_size=28, in_channels=1, channels=32):
        super().__init__()
        name = "DCDiscriminator"
        self.image_size = _pos(name, "image_size", image_size)
        self.in_channels = _pos(name, "in_channels", in_channels)
        channels = _pos(name, "channels", channels)
        if image_size % 4:
            raise ValueError("DCDiscriminator: image_size must be divisible by 4, got %d"
                             % image_size)
        s = image_size // 4
        self.net = nn.Sequential(
            nn.Conv2d(self.in_channels, channels, 4, stride=2, padding=1), LeakyReLU(0.2),
            nn.Conv2d(channels, channels * 2, 4, stride=2, padding=1),
            nn.BatchNorm2d(channels * 2), LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(channels * 2 * s * s, 1))

    def forward(self, x):
        shp = tuple(x.shape)
        if len(shp) != 4 or shp[1:] != (self.in_channels, self.image_size, self.image_size):
            raise ValueError("DCDiscriminator: expected images of shape (N, %d, %d, %d), got %s"
                             % (self.in_channels, self.image_size, self.image_size, shp))
        return self.net(x)


def _grads_finite(module):
    for p in module.parameters():
        if p.grad is not None and not np.isfinite(p.grad._data).all():
            return False
    return True


def fit_gan(generator, discriminator, x, labels=None, epochs=10, batch_size=64, lr=2e-4,
            betas=(0.5, 0.999), real_label=0.9, rng=None, on_epoch_end=None, verbose=False):
    """Train a GAN by alternating discriminator and generator steps on each batch.

    x: real samples scaled to [-1, 1], shaped as the discriminator expects.  labels: class
    indices when the pair is conditional.  Losses: binary cross-entropy on the discriminator's
    logits; real_label < 1 is one-sided label smoothing (real targets 0.9, fake targets 0).
    The generator step uses the non-saturating loss (fake samples labelled real).  Both use
    Adam(lr, betas) — beta1 = 0.5 as in DCGAN.  rng: dl.Generator / NumPy Generator for the
    shuffling and noise (default: the dl.manual_seed stream).  on_epoch_end(epoch, history)
    runs after each epoch (e.g. to save a fixed-noise grid).

    Returns a history dict of per-step lists: d_loss, g_loss, d_real (mean D(x) probability),
    d_fake (mean D(G(z))), g_grads_finite and d_grads_finite (every parameter gradient finite
    after that step's backward)."""
    from .. import optim
    from ..random import rng as _rng
    arr = x._data if isinstance(x, Tensor) else np.asarray(x)
    if arr.ndim == 0 or len(arr) == 0:
        raise ValueError("fit_gan: the training set is empty (shape %s)" % (arr.shape,))
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float32)
    cond = bool(getattr(generator, "num_classes", 0))
    if cond:
        if labels is None:
            raise ValueError("fit_gan: the generator is conditional; pass labels")
        lab = np.asarray(labels._data if isinstance(labels, Tensor) else labels)
        if lab.shape != (len(arr),):
            raise ValueError("fit_gan: labels must have shape (%d,), got %s"
                             % (len(arr), lab.shape))
    if not 0 < real_label <= 1:
        raise ValueError("fit_gan: real_label must be in (0, 1], got %r" % (real_label,))
    g = _rng(rng)
    opt_g = optim.Adam(generator.parameters(), lr=lr, betas=betas)
    opt_d = optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
    hist = {k: [] for k in ("d_loss", "g_loss", "d_real", "d_fake", "g_grads_finite",
                            "d_grads_finite")}
    dt = arr.dtype
    generator.train()
    discriminator.train()
    for epoch in range(int(epochs)):
        perm = g.permutation(len(arr))
        for i in range(0, len(arr), batch_size):
            idx = perm[i:i + batch_size]
            n = len(idx)
            if n < 2:  # batch norm needs two samples
                continue
            real = Tensor(arr[idx])
            yb = Tensor(lab[idx].astype(np.int64)) if cond else None
            z = Tensor(g.standard_normal((n, generator.latent)).astype(dt))
            fake_labels = (Tensor(g.integers(0, generator.num_classes, n).astype(np.int64))
                           if cond else None)
            ones = Tensor(np.full((n, 1), real_label, dt))
            zeros = Tensor(np.zeros((n, 1), dt))
            # discriminator: real -> real_label, G(z) -> 0 (G's output detached)
            with no_grad():
                fake = generator(z, fake_labels) if cond else generator(z)
            d_real = discriminator(real, yb) if cond else discriminator(real)
            d_fake = discriminator(fake, fake_labels) if cond else discriminator(fake)
            d_loss = bce_with_logits(d_real, ones) + bce_with_logits(d_fake, zeros)
            opt_d.zero_grad()
            d_loss.backward()
            hist["d_grads_finite"].append(_grads_finite(discriminator))
            opt_d.step()
            # generator: make D call G(z) real (non-saturating loss, target 1)
            fake = generator(z, fake_labels) if cond else generator(z)
            d_out = discriminator(fake, fake_labels) if cond else discriminator(fake)
            g_loss = bce_with_logits(d_out, Tensor(np.ones((n, 1), dt)))
            opt_g.zero_grad()
            g_loss.backward()
            hist["g_grads_finite"].append(_grads_finite(generator))
            opt_g.step()
            hist["d_loss"].append(d_loss.item())
            hist["g_loss"].append(g_loss.item())
            hist["d_real"].append(float(1 / (1 + np.exp(-d_real._data.astype(np.float64))).mean()))
            hist["d_fake"].append(float(1 / (1 + np.exp(-d_fake._data.astype(np.float64))).mean()))
        if verbose:
            k = max(1, -(-len(arr) // batch_size))
            print("epoch %3d  d_loss %.4f  g_loss %.4f  D(x) %.3f  D(G(z)) %.3f"
                  % (epoch + 1, np.mean(hist["d_loss"][-k:]), np.mean(hist["g_loss"][-k:]),
                     np.mean(hist["d_real"][-k:]), np.mean(hist["d_fake"][-k:])))
        if on_epoch_end is not None:
            on_epoch_end(epoch, hist)
    return hist
