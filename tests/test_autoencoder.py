"""Autoencoders (dense, conv, generic, VAE), noise transforms, anomaly scoring and the chapter-7
examples in quick mode."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn as nn
from dlcore.data import Compose, GaussianNoise, RandomMask, SaltAndPepper
from dlcore.models import (Autoencoder, ConvAutoencoder, DenseAutoencoder, VAE,
                           anomaly_threshold, fit_autoencoder, reconstruction_error, vae_loss)
from _examples import load_example


pytestmark = pytest.mark.usefixtures("one_thread")   # tiny models


def _digits():
    X, y = dl.data.load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


# ---- noise transforms ----------------------------------------------------------------------
def test_noise_transforms_statistics_and_types():
    x = np.full((400, 64), 0.5, np.float32)
    g = GaussianNoise(0.2, generator=dl.Generator().manual_seed(1))(x)
    assert g.dtype == np.float32 and g.shape == x.shape
    assert abs(float((g - x).std()) - 0.2) < 0.01 and abs(float((g - x).mean())) < 0.01
    assert (x == 0.5).all()  # input untouched
    c = GaussianNoise(1.0, clip=(0.0, 1.0))(x)
    assert c.min() >= 0 and c.max() <= 1
    sp = SaltAndPepper(0.2, salt_ratio=0.25)(x)
    salt, pepper = (sp == 1.0).mean(), (sp == 0.0).mean()
    assert abs(salt - 0.05) < 0.01 and abs(pepper - 0.15) < 0.01
    m = RandomMask(0.3, value=-1.0)(x)
    assert abs((m == -1.0).mean() - 0.3) < 0.02 and set(np.unique(m)) == {-1.0, 0.5}
    t = Compose([GaussianNoise(0.1), RandomMask(0.5)])(dl.tensor(x))
    assert isinstance(t, dl.Tensor) and tuple(t.shape) == x.shape
    xi = np.ones((3, 3), np.int64)  # integer images come back as float32
    assert GaussianNoise(0.1)(xi).dtype == np.float32


def test_noise_transforms_seeded():
    x = np.zeros((10, 8), np.float32)
    t = Compose([GaussianNoise(0.5), SaltAndPepper(0.2), RandomMask(0.2)])
    dl.manual_seed(3)
    a = t(x)
    dl.manual_seed(3)
    b = t(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, t(x))


def test_noise_transforms_bad_arguments():
    with pytest.raises(ValueError, match="std"):
        GaussianNoise(-1)
    with pytest.raises(ValueError, match="clip"):
        GaussianNoise(0.1, clip=(1, 0))
    with pytest.raises(ValueError, match="amount"):
        SaltAndPepper(1.5)
    with pytest.raises(ValueError, match="salt_ratio"):
        SaltAndPepper(0.1, salt_ratio=2)
    with pytest.raises(ValueError, match="p must be"):
        RandomMask(-0.1)
    with pytest.raises(TypeError, match="transform 1"):
        Compose([RandomMask(0.1), 3])


# ---- models --------------------------------------------------------------------------------
def test_reconstruction_error_falls_dense():
    X, _ = _digits()
    dl.manual_seed(0)
    m = DenseAutoencoder(64, hidden=(128, 64), latent=8)
    before = reconstruction_error(m, X[:300]).mean()
    hist = fit_autoencoder(m, X[300:900], epochs=6, lr=2e-3)
    after = reconstruction_error(m, X[:300]).mean()
    assert len(hist) == 6 and hist[-1] < 0.6 * hist[0]
    assert all(b <= a * 1.02 for a, b in zip(hist, hist[1:]))  # (almost) monotone
    assert after < 0.5 * before


@pytest.mark.parametrize("upsample", ["transpose", "nearest"])
def test_conv_autoencoder_shapes_and_training(upsample):
    X, _ = _digits()
    X = X.reshape(-1, 1, 8, 8)[:256]
    m = ConvAutoencoder(1, image_size=8, channels=(8, 16), latent=8, upsample=upsample)
    z = m.encode(dl.tensor(X[:5]))
    assert tuple(z.shape) == (5, 8)
    assert tuple(m.decode(z).shape) == (5, 1, 8, 8)
    hist = fit_autoencoder(m, X, epochs=3, lr=3e-3, batch_size=32)
    assert hist[-1] < hist[0]
    assert tuple(ConvAutoencoder(3, image_size=12, latent=4)(dl.randn(2, 3, 12, 12)).shape) == \
        (2, 3, 12, 12)


def test_generic_autoencoder_probe():
    enc = nn.Sequential(nn.Flatten(), nn.Linear(64, 4))
    dec = nn.Sequential(nn.Linear(4, 64), nn.Unflatten(1, (1, 8, 8)))
    m = Autoencoder(enc, dec, (1, 8, 8))
    assert m.code_shape == (4,) and enc.training and dec.training
    assert tuple(m(dl.randn(3, 1, 8, 8)).shape) == (3, 1, 8, 8)


def test_bad_inputs_raise_clear_errors():
    # decoder builds 12x12 images for an 8x8 encoder
    enc = nn.Sequential(nn.Flatten(), nn.Linear(64, 4))
    dec = nn.Sequential(nn.Linear(4, 144), nn.Unflatten(1, (1, 12, 12)))
    with pytest.raises(ValueError, match=r"decoder outputs shape \(None, 1, 12, 12\).*"
                                         r"\(None, 1, 8, 8\).*image sizes must match"):
        Autoencoder(enc, dec, (1, 8, 8))
    # decoder expects a different latent size from what the encoder produces
    with pytest.raises(ValueError, match="do not fit together"):
        Autoencoder(enc, nn.Sequential(nn.Linear(5, 64)), (1, 8, 8))
    with pytest.raises(ValueError, match="divisible by 4"):
        ConvAutoencoder(1, image_size=10)
    with pytest.raises(ValueError, match="upsample"):
        ConvAutoencoder(1, image_size=8, upsample="bicubic")
    cae = ConvAutoencoder(1, image_size=8, latent=6)
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 1, 8, 8\), got "
                                         r"\(2, 1, 12, 12\)"):
        cae(dl.randn(2, 1, 12, 12))
    with pytest.raises(ValueError, match=r"codes of shape \(N, 6\).*got \(2, 5\)"):
        cae.decode(dl.randn(2, 5))
    ae = DenseAutoencoder(64, latent=8)
    with pytest.raises(ValueError, match=r"\(N, 64\), got \(3, 63\)"):
        ae(dl.randn(3, 63))
    with pytest.raises(ValueError, match=r"latent=8"):
        ae.decode(dl.randn(3, 7))
    with pytest.raises(ValueError, match="latent must be a positive int"):
        DenseAutoencoder(64, latent=0)
    with pytest.raises(ValueError, match="out_activation"):
        DenseAutoencoder(64, out_activation="relu")
    vae = VAE(64, latent=4)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        vae.decode(dl.randn(2, 3))
    with pytest.raises(ValueError, match="hidden"):
        VAE(64, hidden=())
    # empty "normal" set
    with pytest.raises(ValueError, match="empty"):
        fit_autoencoder(ae, np.zeros((0, 64), np.float32))
    with pytest.raises(ValueError, match="empty"):
        reconstruction_error(ae, np.zeros((0, 64), np.float32))
    with pytest.raises(ValueError, match="normal set's scores are empty"):
        anomaly_threshold([])
    with pytest.raises(ValueError, match="quantile"):
        anomaly_threshold([1.0, 2.0], 1.5)


def test_vae_loss_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.random((5, 6)).astype(np.float64)
    p = rng.uniform(0.05, 0.95, (5, 6))
    mu, lv = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)) * 0.3
    loss, rec, kl = vae_loss(dl.tensor(p), dl.tensor(x), dl.tensor(mu), dl.tensor(lv))
    want_rec = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum() / 5
    want_kl = -0.5 * (1 + lv - mu ** 2 - np.exp(lv)).sum() / 5
    assert rec.item() == pytest.approx(want_rec, rel=1e-10)
    assert kl.item() == pytest.approx(want_kl, rel=1e-10)
    assert loss.item() == pytest.approx(want_rec + want_kl, rel=1e-10)
    zero = vae_loss(dl.tensor(p), dl.tensor(x), dl.zeros(5, 3, dtype=dl.float64),
                    dl.zeros(5, 3, dtype=dl.float64))[2]
    assert zero.item() == 0.0
    with pytest.raises(ValueError, match="reconstruction shape"):
        vae_loss(dl.tensor(p[:, :5]), dl.tensor(x), dl.tensor(mu), dl.tensor(lv))


def test_vae_reparameterisation_gradients():
    vae = VAE(6, hidden=(5,), latent=2).double()
    x = dl.tensor(np.random.default_rng(1).random((4, 6)))
    recon, mu, logvar = vae(x)
    loss = vae_loss(recon, x, mu, logvar)[0]
    loss.backward()
    for name, p in vae.named_parameters():
        assert p.grad is not None and np.isfinite(p.grad.numpy()).all(), name
    assert np.abs(vae.logvar.weight.grad.numpy()).sum() > 0  # gradient reaches sigma
    vae.eval()
    np.testing.assert_array_equal(vae(x)[0].numpy(), vae(x)[0].numpy())  # eval: z = mu
    assert tuple(vae.sample(7).shape) == (7, 6)


# ---- chapter-7 examples (quick mode, seeded) -------------------------------------------------
def test_example_denoise_quick():
    row = load_example("07_autoencoder_denoise").main(quick=True, epochs=8, embed_epochs=10)
    assert row["chapter"] == "07"
    # the quick run (8 epochs) gets the held-out MSE to 0.63x the noisy input's (full run: 0.40)
    assert row["value"] <= 0.75
    assert row["denoised_mse"] < row["noisy_mse"]
    assert row["train_losses"][-1] < row["train_losses"][0]
    assert 0.3 < row["knn_accuracy_pca_2d"] < 0.9 and row["knn_accuracy_autoencoder_2d"] > 0.4


def test_example_anomaly_quick():
    row = load_example("07_anomaly_detection").main(quick=True)
    # quick run: digits AUC 0.927, series AUC 0.974 (full run: 0.946 and 0.987)
    assert row["digits"]["auc"] >= 0.88
    assert row["series"]["auc"] >= 0.93
    for part in ("digits", "series"):
        assert 0.5 < row[part]["precision"] <= 1 and 0.2 < row[part]["recall"] <= 1


def test_example_vae_quick():
    row = load_example("07_vae").main(quick=True)
    h = row["train_neg_elbo"]
    assert h[-1] < h[0] - 5 and all(b < a for a, b in zip(h, h[1:]))
    assert row["neg_elbo_end"] < row["neg_elbo_start"] - 10
    assert row["kl"] > 0.5   # the posterior is used, not collapsed onto the prior
