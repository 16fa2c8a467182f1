"""Autoencoders: dense, convolutional, any encoder/decoder pair, and a variational autoencoder.

Each model has encode() and decode(); forward(x) reconstructs x.  A denoising autoencoder is
any of them trained on corrupted inputs (dl.data.GaussianNoise, SaltAndPepper, RandomMask) with
the clean images as targets: fit_autoencoder(model, x, noise=...).  reconstruction_error() gives
per-example anomaly scores.  Shapes are checked when a model is built and when it is called, so
an encoder/decoder mismatch is reported up front rather than as a broadcasting error in the loss.
"""
import numpy as np

from .. import nn
from ..autograd import no_grad
from ..data import DataLoader, TensorDataset
from ..nn.functional import binary_cross_entropy as bce, mse_loss
from ..optim import Adam
from ..tensor import Tensor, randn, randn_like
from ..train import fit
from ._args import positive_int

__all__ = ["DenseAutoencoder", "ConvAutoencoder", "Autoencoder", "VAE", "vae_loss",
           "reconstruction_error", "fit_autoencoder", "anomaly_threshold"]


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
    positive_int(name, "in_features", in_features)
    positive_int(name, "latent", latent)
    for h in hidden:
        positive_int(name, "every hidden size", h)


_OUT_ACT = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, None: None}


def _out_activation(name, out_activation):
    if out_activation not in _OUT_ACT:
        raise ValueError("%s: out_activation must be 'sigmoid', 'tanh' or None, got %r"
                         % (name, out_activation))
    return _OUT_ACT[out_activation]


def _check_features(name, x, n):
    if x.ndim != 2 or x.shape[1] != n:
        raise ValueError("%s: expected inputs of shape (N, %d), got %s" % (name, n, tuple(x.shape)))


def _check_codes(name, z, latent):
    if z.ndim != 2 or z.shape[1] != latent:
        raise ValueError("%s: expected codes of shape (N, %d) (latent=%d), got %s"
                         % (name, latent, latent, tuple(z.shape)))


class DenseAutoencoder(nn.Module):
    """in_features -> hidden... -> latent -> reversed(hidden) -> in_features (ReLU between).

    out_activation 'sigmoid' suits inputs scaled to [0, 1], 'tanh' inputs in [-1, 1]; None
    leaves the output linear (standardised data)."""

    def __init__(self, in_features, hidden=(128, 64), latent=16, out_activation="sigmoid"):
        super().__init__()
        hidden = tuple(hidden)
        _check_sizes("DenseAutoencoder", in_features, hidden, latent)
        last = _out_activation("DenseAutoencoder", out_activation)
        self.in_features, self.latent = int(in_features), int(latent)
        self.encoder = _mlp((in_features,) + hidden + (latent,), nn.ReLU)
        self.decoder = _mlp((latent,) + hidden[::-1] + (in_features,), nn.ReLU, last)

    def encode(self, x):
        _check_features("DenseAutoencoder", x, self.in_features)
        return self.encoder(x)

    def decode(self, z):
        _check_codes("DenseAutoencoder", z, self.latent)
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


class ConvAutoencoder(nn.Module):
    """(N, C, H, H) images, H divisible by 4: two stride-2 3x3 convolutions down to a bottleneck
    vector of size `latent`, then back up by two stride-2 stages, either ConvTranspose2d
    (upsample='transpose') or nearest Upsample followed by a 3x3 Conv2d (upsample='nearest',
    free of the checkerboard artefacts transposed convolutions can leave)."""

    def __init__(self, in_channels=1, image_size=28, channels=(16, 32), latent=32,
                 upsample="transpose", out_activation="sigmoid"):
        super().__init__()
        name = "ConvAutoencoder"
        positive_int(name, "in_channels", in_channels)
        positive_int(name, "image_size", image_size)
        positive_int(name, "latent", latent)
        if image_size % 4:
            raise ValueError("ConvAutoencoder: image_size must be divisible by 4 (two stride-2 "
                             "stages), got %d" % image_size)
        channels = tuple(channels)
        if len(channels) != 2:
            raise ValueError("ConvAutoencoder: channels must be two ints (c1, c2), got %r"
                             % (channels,))
        c1, c2 = (positive_int(name, "every channel count", c) for c in channels)
        if upsample not in ("transpose", "nearest"):
            raise ValueError("ConvAutoencoder: upsample must be 'transpose' or 'nearest', got %r"
                             % (upsample,))
        last = _out_activation(name, out_activation)
        s = image_size // 4
        self.in_channels, self.image_size, self.latent = in_channels, image_size, latent
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(c2 * s * s, latent))
        if upsample == "transpose":
            up1 = [nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1)]
            up2 = [nn.ConvTranspose2d(c1, in_channels, 3, stride=2, padding=1,
                                      output_padding=1)]
        else:
            up1 = [nn.Upsample(scale_factor=2), nn.Conv2d(c2, c1, 3, padding=1)]
            up2 = [nn.Upsample(scale_factor=2), nn.Conv2d(c1, in_channels, 3, padding=1)]
        layers = [nn.Linear(latent, c2 * s * s), nn.ReLU(), nn.Unflatten(1, (c2, s, s))]
        layers += up1 + [nn.ReLU()] + up2
        if last is not None:
            layers.append(last())
        self.decoder = nn.Sequential(*layers)

    def encode(self, x):
        shp = tuple(x.shape)
        if len(shp) != 4 or shp[1:] != (self.in_channels, self.image_size, self.image_size):
            raise ValueError("ConvAutoencoder: expected images of shape (N, %d, %d, %d), got %s"
                             % (self.in_channels, self.image_size, self.image_size, shp))
        return self.encoder(x)

    def decode(self, z):
        _check_codes("ConvAutoencoder", z, self.latent)
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


class Autoencoder(nn.Module):
    """Any encoder/decoder pair.  input_shape is one example's shape, e.g. (1, 8, 8); the pair
    is probed once with a zero batch of 2 to check that decode(encode(x)) has x's shape."""

    def __init__(self, encoder, decoder, input_shape):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.input_shape = tuple(int(d) for d in input_shape)
        if not self.input_shape or any(d <= 0 for d in self.input_shape):
            raise ValueError("Autoencoder: input_shape must be positive dims, got %r"
                             % (input_shape,))
        probe = Tensor(np.zeros((2,) + self.input_shape, np.float32))
        was = (encoder.training, decoder.training)
        encoder.eval()
        decoder.eval()
        try:
            with no_grad():
                z = encoder(probe)
                out = decoder(z)
        except Exception as e:  # the layer's own message says which sizes disagree
            raise ValueError("Autoencoder: the encoder and decoder do not fit together for "
                             "inputs of shape %s: %s" % ((None,) + self.input_shape, e)) from e
        finally:
            encoder.train(was[0])
            decoder.train(was[1])
        self.code_shape = tuple(z.shape[1:])
        if tuple(out.shape) != tuple(probe.shape):
            raise ValueError("Autoencoder: the decoder outputs shape %s for inputs of shape %s "
                             "(codes %s); encoder and decoder image sizes must match"
                             % ((None,) + tuple(out.shape[1:]), (None,) + self.input_shape,
                                (None,) + self.code_shape))

    def encode(self, x):
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError("Autoencoder: expected inputs of shape (N, %s), got %s"
                             % (", ".join(map(str, self.input_shape)), tuple(x.shape)))
        return self.encoder(x)

    def decode(self, z):
        if tuple(z.shape[1:]) != self.code_shape:
            raise ValueError("Autoencoder: expected codes of shape (N, %s), got %s"
                             % (", ".join(map(str, self.code_shape)), tuple(z.shape)))
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


class VAE(nn.Module):
    """Variational autoencoder with a diagonal Gaussian posterior q(z|x) = N(mu, exp(logvar))
    and a N(0, I) prior; sigmoid (Bernoulli) outputs for data in [0, 1].

    forward(x) -> (reconstruction, mu, logvar); train with vae_loss(...).  In eval mode the
    code is the posterior mean; sample(n) decodes prior draws."""

    def __init__(self, in_features, hidden=(128,), latent=8):
        super().__init__()
        hidden = tuple(hidden)
        if not hidden:
            raise ValueError("VAE: needs at least one hidden layer, got hidden=()")
        _check_sizes("VAE", in_features, hidden, latent)
        self.in_features, self.latent = int(in_features), int(latent)
        self.body = _mlp((in_features,) + hidden, nn.ReLU, nn.ReLU)
        self.mu = nn.Linear(hidden[-1], latent)
        self.logvar = nn.Linear(hidden[-1], latent)
        self.decoder = _mlp((latent,) + hidden[::-1] + (in_features,), nn.ReLU, nn.Sigmoid)

    def encode(self, x):
        _check_features("VAE", x, self.in_features)
        h = self.body(x)
        return self.mu(h), self.logvar(h)

    def reparameterize(self, mu, logvar):
        # z = mu + sigma * eps: the noise is an input, so z stays differentiable in mu and sigma
        if not self.training:
            return mu
        return mu + (logvar * 0.5).exp() * randn_like(mu)

    def decode(self, z):
        _check_codes("VAE", z, self.latent)
        return self.decoder(z)

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    def sample(self, n, generator=None):
        with no_grad():
            return self.decoder(randn(int(n), self.latent, generator=generator,
                                      dtype=self.mu.weight.dtype))


def vae_loss(recon, x, mu, logvar, beta=1.0):
    """Negative ELBO per example, averaged over the batch: Bernoulli reconstruction term (binary
    cross-entropy summed over features) + beta * KL(N(mu, exp(logvar)) || N(0, I)).
    Returns (loss, reconstruction term, KL term) as tensors."""
    if tuple(recon.shape) != tuple(x.shape):
        raise ValueError("vae_loss: reconstruction shape %s differs from input shape %s"
                         % (tuple(recon.shape), tuple(x.shape)))
    if tuple(mu.shape) != tuple(logvar.shape) or mu.shape[0] != x.shape[0]:
        raise ValueError("vae_loss: mu %s and logvar %s must both be (N, latent) with N=%d"
                         % (tuple(mu.shape), tuple(logvar.shape), x.shape[0]))
    n = x.shape[0]
    rec = bce(recon, x, reduction="sum") / n
    kl = (-0.5 * (1.0 + logvar - mu * mu - logvar.exp()).sum()) / n
    return rec + beta * kl, rec, kl


def _as_float_array(x, name):
    arr = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float32)
    if arr.ndim == 0 or len(arr) == 0:
        raise ValueError("%s: the input is empty (shape %s)" % (name, arr.shape))
    return arr


def reconstruction_error(model, x, batch_size=256):
    """Per-example mean squared reconstruction error (the anomaly score) as a NumPy array.
    The model runs in eval mode (a VAE reconstructs from its posterior mean)."""
    arr = _as_float_array(x, "reconstruction_error")
    was = model.training
    model.eval()
    out = []
    try:
        with no_grad():
            for i in range(0, len(arr), batch_size):
                xb = arr[i:i + batch_size]
                r = model(Tensor(xb))
                r = r[0] if isinstance(r, tuple) else r
                d = (r.numpy() - xb).reshape(len(xb), -1).astype(np.float64)
                out.append((d * d).mean(1))
    finally:
        model.train(was)
    return np.concatenate(out)


def fit_autoencoder(model, x, epochs=10, batch_size=64, lr=1e-3, noise=None, optimizer=None,
                    generator=None, beta=1.0, verbose=False):
    """Train `model` to reconstruct x (the "normal" data for anomaly detection) with dl.train.fit.

    noise: a transform applied to each input batch (a denoising autoencoder: the loss compares
    the reconstruction of the corrupted batch with the clean one).  A VAE is trained on
    vae_loss(beta), the others on the mean squared error.  Batches are shuffled from
    `generator` (or dl.manual_seed's stream).  verbose: one line per epoch.  Returns the mean
    training loss of each epoch."""
    arr = _as_float_array(x, "fit_autoencoder (the training / normal set)")
    if int(epochs) < 0 or int(batch_size) <= 0:
        raise ValueError("fit_autoencoder: epochs must be >= 0 and batch_size > 0, got %r and %r"
                         % (epochs, batch_size))
    opt = optimizer if optimizer is not None else Adam(model.parameters(), lr=lr)

    def input_and_target(batch):
        # the clean batch is the target; the model sees it corrupted when there is noise
        (clean,) = batch
        if noise is None:
            return clean, clean
        corrupted = noise(clean.numpy())
        corrupted = (corrupted.numpy() if isinstance(corrupted, Tensor)
                     else np.asarray(corrupted, dtype=clean.dtype))
        return Tensor(corrupted), clean

    if isinstance(model, VAE):
        def loss_fn(out, target):
            recon, mu, logvar = out
            return vae_loss(recon, target, mu, logvar, beta)[0]
    else:
        loss_fn = mse_loss
    loader = DataLoader(TensorDataset(arr), batch_size=int(batch_size), shuffle=True,
                        generator=generator)
    history = fit(model, loader, loss_fn, opt, epochs=int(epochs), metrics=(),
                  unpack=input_and_target, verbose=1 if verbose else 0)
    return history.history.get("loss", [])


def anomaly_threshold(normal_scores, quantile=0.95):
    """The score above which an example is flagged: the given quantile of the anomaly scores of
    normal (training or validation) data, so about 1 - quantile of normal data is flagged."""
    s = np.asarray(normal_scores, dtype=np.float64).reshape(-1)
    if s.size == 0:
        raise ValueError("anomaly_threshold: the normal set's scores are empty; fit on at least "
                         "one normal example")
    if not 0 <= quantile <= 1:
        raise ValueError("anomaly_threshold: quantile must be in [0, 1], got %r" % (quantile,))
    if not np.isfinite(s).all():
        raise ValueError("anomaly_threshold: normal scores contain NaN or infinity")
    return float(np.quantile(s, quantile))
