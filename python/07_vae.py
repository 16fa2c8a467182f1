"""Chapter 7 — a variational autoencoder (VAE) on the bundled 8x8 digits.

A plain autoencoder's codes are scattered wherever training put them, so decoding a random code
gives noise.  A VAE's encoder outputs a distribution N(mu, sigma^2) per input; training samples a
code from it (z = mu + sigma * eps, the reparameterisation trick, so gradients flow to mu and
sigma) and maximises the evidence lower bound (ELBO):

    ELBO = E[log p(x | z)]  -  KL( N(mu, sigma^2) || N(0, I) )
           reconstruction      keeps codes near the prior

The KL term packs the codes around the origin, so decoding z ~ N(0, I) draws new digits.  We
report the negative ELBO (nats per image, lower is better) on training and held-out digits, and
a classifier-free sanity figure: the held-out reconstruction MSE.

    python python/07_vae.py            # full run
    python python/07_vae.py --quick    # a few seconds
Saves vae_samples.png (decoded prior samples, in --out DIR) when matplotlib is installed.
"""
import time

import numpy as np

import dlcore as dl
from dlcore.examples.common import one_thread, pyplot, run, save_figure
from dlcore.models import VAE, fit_autoencoder, reconstruction_error, vae_loss


def neg_elbo(model, X):
    """Mean negative ELBO (nats per image) with one posterior sample per image."""
    model.train()   # sample z, as in training
    with dl.no_grad():
        x = dl.tensor(X)
        recon, mu, logvar = model(x)
        loss, rec, kl = vae_loss(recon, x, mu, logvar)
    model.eval()
    return loss.item(), rec.item(), kl.item()


def save_samples(images, out_dir):
    plt = pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(8, 8, figsize=(5, 5.3))
    for ax, img in zip(axes.ravel(), images):
        ax.imshow(img.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.axis("off")
    fig.suptitle("VAE: decoded samples z ~ N(0, I)", fontsize=9)
    return save_figure(fig, out_dir, "vae_samples.png")


@one_thread   # small dense layers: one thread beats two
def main(quick=False, out_dir="."):
    dl.manual_seed(0)
    X, y = dl.data.load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    perm = np.random.default_rng(0).permutation(len(X))
    Xte, Xtr = X[perm[:360]], X[perm[360:]]
    t0 = time.perf_counter()
    model = VAE(64, hidden=(128,), latent=8)
    start = neg_elbo(model, Xte)
    epochs = 8 if quick else 40
    hist = fit_autoencoder(model, Xtr, epochs=epochs, lr=2e-3)
    end = neg_elbo(model, Xte)
    mse = float(reconstruction_error(model, Xte).mean())
    print("VAE 64-128-(8)-128-64, %d epochs" % epochs)
    print("training -ELBO per epoch (nats/image):", " ".join("%.1f" % v for v in hist))
    print("held-out -ELBO %.1f -> %.1f (reconstruction %.1f + KL %.1f); reconstruction MSE %.4f"
          % (start[0], end[0], end[1], end[2], mse))
    pictures = []
    if not quick and out_dir is not None:
        gen = dl.Generator().manual_seed(7)
        p = save_samples(model.sample(64, generator=gen).numpy(), out_dir)
        if p:
            pictures.append(p)
    return {"chapter": "07", "model": "VAE (latent 8)", "data": "digits 8x8",
            "metric": "held-out -ELBO (nats/image)", "value": round(end[0], 2),
            "neg_elbo_start": start[0], "neg_elbo_end": end[0], "kl": end[2],
            "train_neg_elbo": hist, "test_mse": mse, "pictures": pictures,
            "seconds": time.perf_counter() - t0}


if __name__ == "__main__":
    run(main)
