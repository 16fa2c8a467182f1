"""pytest-benchmark: one DCGAN training epoch on the bundled digits (29 steps of 64), dlcore's
fit_gan against the same models and loop in torch (weights copied from dlcore).

    python -m pytest benchmarks/bench_gan.py --benchmark-group-by=param:threads

The same comparison as a table of ratios: `dlcore bench gan` (dlcore.bench.gan).
"""
import numpy as np
import pytest

import dlcore as dl
from dlcore.bench import gan as B
from dlcore.bench import threads as _threads
from dlcore.models import DCDiscriminator, DCGenerator, fit_gan

ROUNDS = 3


@pytest.fixture(scope="module")
def digits():
    X, _ = dl.data.load_digits(return_X_y=True)
    return (X / 8.0 - 1.0).astype(np.float32).reshape(-1, 1, 8, 8)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("side", ["dlcore", "torch"])
def test_dcgan_epoch(benchmark, digits, side, threads):
    dl.manual_seed(0)
    G, D = DCGenerator(B.LATENT, 8, 1, B.CHANNELS), DCDiscriminator(8, 1, B.CHANNELS)
    rng = np.random.default_rng(1)
    with _threads(threads):
        if side == "dlcore":
            fn = lambda: fit_gan(G, D, digits, epochs=1, batch_size=B.BATCH, rng=rng)  # noqa: E731
        else:
            torch = pytest.importorskip("torch")
            tg, td = B.torch_dcgan(torch, G, D)
            og = torch.optim.Adam(tg.parameters(), lr=2e-4, betas=(0.5, 0.999))
            od = torch.optim.Adam(td.parameters(), lr=2e-4, betas=(0.5, 0.999))
            fn = lambda: B._torch_epoch(torch, tg, td, og, od, digits, rng)  # noqa: E731
        benchmark.pedantic(fn, rounds=ROUNDS, warmup_rounds=1)
