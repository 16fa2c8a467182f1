"""Chapter 7 — autoencoders: denoising and a 2-D embedding, on the bundled 8x8 digits.

An autoencoder squeezes its input through a narrow bottleneck and rebuilds it; to do that well
it must keep what matters about the data and drop the rest.  Two uses:

1. Denoising: train on corrupted digits (Gaussian noise + randomly masked pixels) with the clean
   digits as targets.  Noise is not predictable from the rest of the image, so the network learns
   to remove it.  Measured on held-out digits: the mean squared error of the output to the clean
   image against that of the noisy input.
2. Dimensionality reduction: with a 2-unit bottleneck the encoder is a learned, non-linear 2-D
   map of the digits.  We compare it with PCA (the best linear 2-D projection, computed with a
   NumPy SVD) by the accuracy of a 5-nearest-neighbour classifier in each 2-D space.

    python python/07_autoencoder_denoise.py            # full run
    python python/07_autoencoder_denoise.py --quick    # a few seconds
Saves ae_denoise_examples.png and ae_embedding_vs_pca.png (in --out DIR) when matplotlib is
installed.
"""
import time

import numpy as np

import dlcore as dl
from dlcore.data import Compose, GaussianNoise, RandomMask
from dlcore.examples.common import one_thread, pyplot, run, save_figure
from dlcore.models import DenseAutoencoder, fit_autoencoder


def split(X, y, n_test=360, seed=0):
    perm = np.random.default_rng(seed).permutation(len(X))
    te, tr = perm[:n_test], perm[n_test:]
    return X[tr], y[tr], X[te], y[te]


def knn_accuracy(train_emb, train_y, test_emb, test_y, k=5):
    """Majority vote of the k nearest training points (Euclidean) for each test point."""
    d = ((test_emb[:, None, :] - train_emb[None, :, :]) ** 2).sum(-1)
    nearest = np.argpartition(d, k, axis=1)[:, :k]
    votes = train_y[nearest]
    pred = np.array([np.bincount(v, minlength=10).argmax() for v in votes])
    return float((pred == test_y).mean())


def pca_2d(Xtr, Xte):
    mu = Xtr.mean(0)
    _, _, vt = np.linalg.svd(Xtr - mu, full_matrices=False)
    return (Xtr - mu) @ vt[:2].T, (Xte - mu) @ vt[:2].T


def save_denoise_examples(clean, noisy, out, out_dir):
    plt = pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(3, 10, figsize=(8, 2.8))
    for j in range(10):
        for i, (imgs, label) in enumerate(((noisy, "noisy"), (out, "denoised"), (clean, "clean"))):
            axes[i, j].imshow(imgs[j].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            axes[i, j].axis("off")
            if j == 0:
                axes[i, j].set_title(label, fontsize=7, loc="left")
    return save_figure(fig, out_dir, "ae_denoise_examples.png")


def save_embeddings(ae_emb, pca_emb, y, accs, out_dir):
    plt = pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, emb, name, acc in ((axes[0], ae_emb, "autoencoder bottleneck", accs[0]),
                               (axes[1], pca_emb, "PCA (NumPy SVD)", accs[1])):
        sc = ax.scatter(emb[:, 0], emb[:, 1], c=y, cmap="tab10", s=6)
        ax.set_title("%s: 5-NN accuracy %.1f%%" % (name, 100 * acc), fontsize=9)
    fig.colorbar(sc, ax=axes, ticks=range(10))
    return save_figure(fig, out_dir, "ae_embedding_vs_pca.png")


@one_thread   # small dense layers: one thread is faster than two
def main(quick=False, out_dir=".", epochs: int = None, embed_epochs: int = None):
    """quick is the tour's smoke run (4 epochs for the denoiser, 5 for the 2-D autoencoder);
    the test asks for epochs=8, embed_epochs=10, where its bounds were measured."""
    dl.manual_seed(0)
    X, y = dl.data.load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    Xtr, ytr, Xte, yte = split(X, y)
    t0 = time.perf_counter()

    # 1. denoising
    noise = Compose([GaussianNoise(0.3, clip=(0.0, 1.0)), RandomMask(0.1)])
    noisy_te = noise(Xte)   # one fixed corruption of the test set
    noisy_mse = float(((noisy_te - Xte) ** 2).mean())
    dae = DenseAutoencoder(64, hidden=(256, 128), latent=32)
    epochs = epochs or (4 if quick else 30)
    hist = fit_autoencoder(dae, Xtr, epochs=epochs, lr=2e-3, noise=noise)
    dae.eval()
    with dl.no_grad():
        denoised = dae(dl.tensor(noisy_te)).numpy()
    denoised_mse = float(((denoised - Xte) ** 2).mean())
    ratio = denoised_mse / noisy_mse
    print("denoising autoencoder 64-256-128-32-128-256-64, %d epochs: train loss %.4f -> %.4f"
          % (epochs, hist[0], hist[-1]))
    print("held-out MSE to the clean digits: noisy input %.4f, denoised %.4f (ratio %.3f)"
          % (noisy_mse, denoised_mse, ratio))

    # 2. 2-D bottleneck vs PCA
    ae2 = DenseAutoencoder(64, hidden=(128, 64), latent=2)
    hist2 = fit_autoencoder(ae2, Xtr, epochs=embed_epochs or (5 if quick else 40), lr=2e-3)
    ae2.eval()
    with dl.no_grad():
        emb_tr = ae2.encode(dl.tensor(Xtr)).numpy()
        emb_te = ae2.encode(dl.tensor(Xte)).numpy()
    pca_tr, pca_te = pca_2d(Xtr, Xte)
    knn_ae = knn_accuracy(emb_tr, ytr, emb_te, yte)
    knn_pca = knn_accuracy(pca_tr, ytr, pca_te, yte)
    print("2-D embeddings, 5-NN held-out accuracy: autoencoder %.3f, PCA %.3f "
          "(2-D autoencoder reconstruction loss %.4f)" % (knn_ae, knn_pca, hist2[-1]))
    pictures = []
    if not quick and out_dir is not None:
        pictures = [p for p in (save_denoise_examples(Xte, noisy_te, denoised, out_dir),
                                save_embeddings(emb_te, pca_te, yte, (knn_ae, knn_pca), out_dir))
                    if p]
    return {"chapter": "07", "model": "denoising dense autoencoder", "data": "digits 8x8",
            "metric": "denoised/noisy MSE to clean (test)", "value": round(ratio, 4),
            "noisy_mse": noisy_mse, "denoised_mse": denoised_mse, "train_losses": hist,
            "knn_accuracy_autoencoder_2d": knn_ae, "knn_accuracy_pca_2d": knn_pca,
            "pictures": pictures, "seconds": time.perf_counter() - t0}


if __name__ == "__main__":
    run(main)
