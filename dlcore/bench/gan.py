"""DCGAN training time per epoch: dlcore against the same model and loop in torch.

    from dlcore.bench import gan
    print(gan.format_table(gan.run(threads=(1, 2))))

Case: one epoch of dl.models.fit_gan on the bundled digits (1,797 images of 1x8x8 in [-1, 1],
batches of 64 -> 29 steps), DCGenerator(latent=32, image_size=8, channels=32) and
DCDiscriminator(image_size=8, channels=32); per step a discriminator update (real + detached
fake batch, BCE on logits, label smoothing 0.9) and a generator update (non-saturating loss),
Adam(2e-4, betas=(0.5, 0.999)) on each.  torch runs the same layers (weights copied from
dlcore, so both start identically) and the same loop written with torch.nn / torch.optim.
No NumPy side (numpy_ms is None): there is no NumPy reference for a whole training epoch;
before timing, the two models' forward passes are compared instead (when torch is installed).
Timing: median over `repeats` epochs per side after one warm-up epoch, both sides with
`threads` threads.  Ratios > 1 mean dlcore is faster.
"""
import numpy as np

from ..models.gan import dc_discriminator_net, dc_generator_layers
from . import Workload, assert_close, format_table, get_torch, row, time_ms, timed_cases

__all__ = ["run", "format_table", "cases", "workload", "torch_dcgan", "gan_step"]

SIDES = ("dlcore", "torch")

LATENT, CHANNELS, BATCH = 32, 32, 64


def torch_dcgan(torch, G, D):
    """torch copies of a dlcore DCGenerator / DCDiscriminator (same layer indices, so the
    state_dict keys match) with the dlcore weights and buffers loaded."""
    ch = G.body[1].weight.shape[1]
    s = G.image_size // 4
    tg = torch.nn.Module()
    tg.project, tg.body = dc_generator_layers(torch.nn, G.latent, ch, s, G.out_channels)
    tg.forward = lambda z: tg.body(tg.project(z))
    td = torch.nn.Module()
    td.net = dc_discriminator_net(torch.nn, D.in_channels, D.net[0].weight.shape[0], s)
    td.forward = lambda x: td.net(x)
    for ours, theirs in ((G, tg), (D, td)):
        sd = {k: torch.from_numpy(np.array(v.numpy(), copy=True))
              for k, v in ours.state_dict().items()}
        theirs.load_state_dict(sd)
    return tg, td


def gan_step(lib, G, D, opt_g, opt_d, real, z, labels):
    """One DCGAN step (discriminator on real and fake with a smoothed real label, then the
    generator), written once for dlcore and torch: `lib` is either module.  labels: the
    (ones, smoothed ones, zeros) targets.  Returns the step function (it returns d_loss)."""
    ones, smooth, zeros = labels
    bce = lib.nn.functional.binary_cross_entropy_with_logits

    def step():
        with lib.no_grad():
            fake = G(z)
        d_loss = bce(D(real), smooth) + bce(D(fake), zeros)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = bce(D(G(z)), ones)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        return float(d_loss.item())

    return step


def _torch_epoch(torch, tg, td, opt_g, opt_d, X, rng):
    perm = rng.permutation(len(X))
    for i in range(0, len(X), BATCH):
        idx = perm[i:i + BATCH]
        n = len(idx)
        if n < 2:
            continue
        real = torch.from_numpy(X[idx])
        z = torch.from_numpy(rng.standard_normal((n, LATENT)).astype(np.float32))
        labels = (torch.ones(n, 1), torch.full((n, 1), 0.9), torch.zeros(n, 1))
        gan_step(torch, tg, td, opt_g, opt_d, real, z, labels)()


def cases(quick=False):
    """One case: an epoch over the digits (512 of them with quick)."""
    n = 512 if quick else 1797
    steps = -(-n // BATCH)
    return [dict(case="dcgan epoch digits 8x8 (%d steps of %d)" % (steps, BATCH), images=n,
                 steps=steps)]


def workload(c, torch=None):
    """dlcore's fit_gan epoch and, with torch, the same epoch in torch from the same weights.
    check() runs both models forward on one batch and compares them (the NumPy reference of
    the other families does not exist here; without torch there is nothing to compare)."""
    from .. import random as R
    from ..data import load_digits
    from ..models import DCDiscriminator, DCGenerator, fit_gan
    X, _ = load_digits(return_X_y=True)
    X = (X / 8.0 - 1.0).astype(np.float32).reshape(-1, 1, 8, 8)[:c["images"]]
    R.manual_seed(0)
    G, D = DCGenerator(LATENT, 8, 1, CHANNELS), DCDiscriminator(8, 1, CHANNELS)
    rng = np.random.default_rng(1)
    sides = {"dlcore": lambda: fit_gan(G, D, X, epochs=1, batch_size=BATCH, rng=rng),
             "torch": None}
    if torch is not None:
        torch.manual_seed(0)
        tg, td = torch_dcgan(torch, G, D)
        opt_g = torch.optim.Adam(tg.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(td.parameters(), lr=2e-4, betas=(0.5, 0.999))
        trng = np.random.default_rng(1)
        sides["torch"] = lambda: _torch_epoch(torch, tg, td, opt_g, opt_d, X, trng)

    def check():
        if torch is None:
            return
        from .. import no_grad, tensor
        cg, cd = torch_dcgan(torch, G, D)       # copies of the weights as they are now
        z = np.random.default_rng(2).standard_normal((BATCH, LATENT)).astype(np.float32)
        with no_grad():
            img, score = G(tensor(z)), D(tensor(X[:BATCH]))
        with torch.no_grad():
            timg, tscore = cg(torch.from_numpy(z)), cd(torch.from_numpy(X[:BATCH]))
        assert_close("gan " + c["case"], "generator output", img, timg.numpy(), 1e-4)
        assert_close("gan " + c["case"], "discriminator output", score, tscore.numpy(), 1e-4)
    return Workload(c["case"], sides, check)


def run(threads=(1, 2), quick=False):
    repeats = 2 if quick else 5

    def timer(sides, n):
        return {k: time_ms(fn, repeats=repeats, warmup=1) for k, fn in sides.items()}
    return [row(c["case"], n, ms["dlcore"], None, ms.get("torch"),
                ms_per_step=ms["dlcore"] / c["steps"])
            for c, n, ms in timed_cases(cases(quick), workload, threads, timer, get_torch())]
