"""Autoencoders: dense, convolutional, denoising (any of them trained on noisy inputs) and VAE.

Each has encode() and decode(); forward(x) reconstructs x.  The decoder mirrors the encoder so
that the reconstruction has the input's shape; a mismatch is reported when it is built.
"""
import math

from .. import nn
from ..tensor import randn_like
from ..ops import loss as L


def _mlp(sizes, act, last_act=None):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    if last_act is not None:
        layers.append(last_act())
    return nn.Sequential(*layers)


def _check_sizes(name, in_features, hidden, latent):
    for what, v in (("in_features", in_features), ("latent", latent)):
        if not isinstance(v, int) or v <= 0:
            raise ValueError("%s: %s must be a positive int, got %r" % (name, what, v))
    if any((not isinstance(h, int)) or h <= 0 for h in hidden):
        raise ValueError("%s: hidden sizes must be positive ints, got %r" % (name, hidden))


class DenseAutoencoder(nn.Module):
    """in_features -> hidden... -> latent -> reversed(hidden) -> in_features.

    out_activation 'sigmoid' suits inputs scaled to [0, 1]; None leaves the output linear."""

    def __init__(self, in_features, hidden=(128, 64), latent=16, out_activation="sigmoid"):
        super().__init__()
        hidden = tuple(hidden)
        _check_sizes("DenseAutoencoder", in_features, hidden, latent)
        last = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, None: None}
        if out_activation not in last:
            raise ValueError("DenseAutoencoder: out_activation must be 'sigmoid', 'tanh' or "
                             "None, got %r" % (out_activation,))
        self.in_features, self.latent = in_features, latent
        self.encoder = _mlp((in_features,) + hidden + (latent,), nn.ReLU)
        self.decoder = _mlp((latent,) + hidden[::-1] + (in_features,), nn.ReLU,
                            last[out_activation])

    def encode(self, x):
        if x.shape[-1] != self.in_features:
            raise ValueError("DenseAutoencoder: expected inputs with %d features, got shape %s"
                             % (self.in_features, tuple(x.shape)))
        return self.encoder(x)

    def decode(self, z):
        if z.shape[-1] != self.latent:
            raise ValueError("DenseAutoencoder: expected codes of size %d, got shape %s"
                             % (self.latent, tuple(z.shape)))
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


class ConvAutoencoder(nn.Module):
    """(N, C, H, W) images, H and W divisible by 4: two stride-2 convolutions down to a
    bottleneck vector, two transposed convolutions back up."""

    def __init__(self, in_channels=1, image_size=28, channels=(16, 32), latent=32):
        super().__init__()
        if image_size % 4:
            raise ValueError("ConvAutoencoder: image_size must be divisible by 4 (two stride-2 "
                             "stages), got %d" % image_size)
        if latent <= 0:
            raise ValueError("ConvAutoencoder: latent must be positive, got %r" % (latent,))
        c1, c2 = channels
        s = image_size // 4
        self.in_channels, self.image_size, self.latent = in_channels, image_size, latent
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(c2 * s * s, latent))
        self.decoder = nn.Sequential(
            nn.Linear(latent, c2 * s * s), nn.ReLU(), nn.Unflatten(1, (c2, s, s)),
            nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(c1, in_channels, 3, stride=2, padding=1, output_padding=1),
            nn.Sigmoid())

    def encode(self, x):
        shp = tuple(x.shape)
        if len(shp) != 4 or shp[1:] != (self.in_channels, self.image_size, self.image_size):
            raise ValueError("ConvAutoencoder: expected images of shape (N, %d, %d, %d), got %s"
                             % (self.in_channels, self.image_size, self.image_size, shp))
        return self.encoder(x)

    def decode(self, z):
        if z.ndim != 2 or z.shape[1] != self.latent:
            raise ValueError("ConvAutoencoder: expected codes of shape (N, %d), got %s"
                             % (self.latent, tuple(z.shape)))
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


class VAE(nn.Module):
    """Variational autoencoder with a diagonal Gaussian posterior and a N(0, I) prior.

    forward(x) -> (reconstruction, mu, logvar); the loss is vae_loss(...)."""

    def __init__(self, in_features, hidden=(128,), latent=8):
        super().__init__()
        hidden = tuple(hidden)
        _check_sizes("VAE", in_features, hidden, latent)
        self.in_features, self.latent = in_features, latent
        self.body = _mlp((in_features,) + hidden, nn.ReLU, nn.ReLU)
        self.mu = nn.Linear(hidden[-1], latent)
        self.logvar = nn.Linear(hidden[-1], latent)
        self.decoder = _mlp((latent,) + hidden[::-1] + (in_features,), nn.ReLU, nn.Sigmoid)

    def encode(self, x):
        if x.shape[-1] != self.in_features:
            raise ValueError("VAE: expected inputs with %d features, got shape %s"
                             % (self.in_features, tuple(x.shape)))
        h = self.body(x)
        return self.mu(h), self.logvar(h)

    def reparameterize(self, mu, logvar):
        # z = mu + sigma * eps keeps z differentiable in mu and sigma
        if not self.training:
            return mu
        return mu + (logvar * 0.5).exp() * randn_like(mu)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    def sample(self, n, generator=None):
        from ..tensor import randn
        from ..autograd import no_grad
        with no_grad():
            return self.decoder(randn(n, self.latent, generator=generator,
                                      dtype=self.mu.weight.dtype))


def vae_loss(recon, x, mu, logvar, beta=1.0):
    """Per-example negative ELBO: Bernoulli reconstruction (BCE summed over features) plus
    beta * KL(q(z|x) || N(0, I)), averaged over the batch.  Returns (loss, recon, kl)."""
    n = x.shape[0]
    rec = L.binary_cross_entropy(recon, x, reduction="sum") / n
    kl = (-0.5 * (1 + logvar - mu * mu - logvar.exp()).sum()) / n
    return rec + beta * kl, rec, kl


def reconstruction_error(model, x, batch_size=256):
    """Per-example mean squared reconstruction error (the anomaly score), as a NumPy array."""
    import numpy as np
    from ..autograd import no_grad
    from ..tensor import Tensor
    if len(x) == 0:
        raise ValueError("reconstruction_error: x is empty")
    was = model.training
    model.eval()
    out = []
    with no_grad():
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            xb = xb if isinstance(xb, Tensor) else Tensor(xb)
            r = model(xb)
            r = r[0] if isinstance(r, tuple) else r
            d = (r - xb).numpy().reshape(len(xb), -1)
            out.append((d * d).mean(1))
    model.train(was)
    return np.concatenate(out)


__all__ = ["DenseAutoencoder", "ConvAutoencoder", "VAE", "vae_loss", "reconstruction_error"]
del math
