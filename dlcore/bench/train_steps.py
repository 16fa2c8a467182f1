"""Whole training steps: dlcore against torch on the same model, weights and batch.

    from dlcore.bench import train_steps
    print(train_steps.format_table(train_steps.run(threads=(1, 2))))

Cases (float32; one step = zero_grad, forward, loss, backward, optimizer step):
  lenet b64       LeNet-5 (dl.models.LeNet5) on 64 1x28x28 images, cross-entropy, SGD(0.9)
  resnet18 b32    ResNet-18 (BasicBlocks [2, 2, 2, 2], 7x7/2 stem and max-pool, BatchNorm in
                  training mode) on 32 3x64x64 images, 10 classes, SGD(0.9, wd 5e-4)
  char-gpt b32    the chapter-10 character GPT's shape (vocabulary 65, block 64, 2 layers,
                  4 heads, width 96; pre-norm blocks of causal self-attention and a 4x GELU
                  MLP, tied nothing), 32 windows, next-character cross-entropy, AdamW(3e-4)
  dcgan b64       DCGenerator / DCDiscriminator (dl.models, latent 32, 28x28, 32 channels):
                  one discriminator update (real + detached fake, BCE on logits) and one
                  generator update, Adam(2e-4, betas (0.5, 0.999)) each
The torch side is the same architecture written with torch.nn, built by the same code
(`_lenet`, `_resnet18`, `_char_gpt` take the nn namespace) or by bench.gan.torch_dcgan, with
dlcore's initial weights loaded through state_dict, so both sides start identical.  check()
compares the two sides' first losses (and fails the case beyond 1e-3 relative) before any
timing.  No NumPy side: there is no NumPy reference for a training step.
Timing: the sides alternate step by step (a burst of someone else's load hits both alike);
with one thread each side's time is CPU time of the process (immune to time slices lost to
other processes on a shared machine), with more threads wall time; the reported time is the
fastest of `rounds` steps after `warmup` steps.  ratio_torch = torch ms / dlcore ms (> 1:
dlcore faster).
"""
import time

import numpy as np

from . import MismatchError, format_table, get_torch, row, threads_scope

__all__ = ["run", "format_table", "cases", "CASES"]

CASES = ("lenet b64", "resnet18 b32 64x64", "char-gpt b32", "dcgan b64 28x28")
QUICK = ("lenet b64", "char-gpt b32")
RTOL = 1e-3


# ---- the models, written once against a PyTorch-style nn namespace ---------------------------

def _lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def basic_block(nn):
    """ResNet's BasicBlock class for an nn namespace, with dl.models.resnet's state_dict keys
    (the torch twin of `dlcore bench infer` uses it too)."""
    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                                nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return self.relu(y + (x if self.downsample is None else self.downsample(x)))

    return BasicBlock


def _resnet18(nn, num_classes=10):
    Block = basic_block(nn)
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
              nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes)]
    return nn.Sequential(*layers)


GPT_VOCAB, GPT_BLOCK, GPT_LAYERS, GPT_HEADS, GPT_WIDTH = 65, 64, 2, 4, 96


def _char_gpt(nn):
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(GPT_WIDTH)
            self.attn = nn.MultiheadAttention(GPT_WIDTH, GPT_HEADS, batch_first=True)
            self.ln2 = nn.LayerNorm(GPT_WIDTH)
            self.mlp = nn.Sequential(nn.Linear(GPT_WIDTH, 4 * GPT_WIDTH), nn.GELU(),
                                     nn.Linear(4 * GPT_WIDTH, GPT_WIDTH))

        def forward(self, x, mask):
            h = self.ln1(x)
            x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(GPT_VOCAB, GPT_WIDTH)
            self.pos = nn.Embedding(GPT_BLOCK, GPT_WIDTH)
            self.blocks = nn.ModuleList([Block() for _ in range(GPT_LAYERS)])
            self.ln = nn.LayerNorm(GPT_WIDTH)
            self.head = nn.Linear(GPT_WIDTH, GPT_VOCAB)

        def forward(self, idx, pos, mask):
            x = self.tok(idx) + self.pos(pos)
            for b in self.blocks:
                x = b(x, mask)
            return self.head(self.ln(x))

    return GPT()


# ---- one case: both sides' step functions --------------------------------------------------

def _load_into_torch(torch, ours, theirs):
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.numpy(), copy=True))
                            for k, v in ours.state_dict().items()})


def _ce_step(F, model, opt, inputs, target, classes):
    """One step of cross-entropy training, written once for dlcore and torch (F is either's
    nn.functional); classes: flatten the logits to rows of that many first (a sequence model)."""
    def step():
        opt.zero_grad()
        logits = model(*inputs)
        if classes is not None:
            logits = logits.reshape(-1, classes)
        loss = F.cross_entropy(logits, target)
        loss.backward()
        opt.step()
        return float(loss.item())

    return step


def _classifier_steps(torch, build, inputs, y, make_opt, classes=None):
    """(dlcore step, torch step or None) for a model from build(nn) trained to predict y from
    model(*inputs), the same weights on both sides."""
    import dlcore as dl
    import dlcore.nn.functional as F
    dl.manual_seed(0)
    model = build(dl.nn)
    opt = make_opt(dl.optim, model.parameters())
    dl_step = _ce_step(F, model, opt, [dl.tensor(a) for a in inputs], dl.tensor(y), classes)
    if torch is None:
        return dl_step, None
    tmodel = build(torch.nn)
    _load_into_torch(torch, model, tmodel)
    topt = make_opt(torch.optim, tmodel.parameters())
    torch_step = _ce_step(torch.nn.functional, tmodel, topt,
                          [torch.from_numpy(a) for a in inputs], torch.from_numpy(y), classes)
    return dl_step, torch_step


def _gpt_steps(torch, rng):
    B, T = 32, GPT_BLOCK
    ids = rng.integers(0, GPT_VOCAB, (B, T + 1))
    x, y = ids[:, :-1].copy(), ids[:, 1:].copy()
    pos = np.arange(T)
    mask = np.triu(np.full((T, T), -np.inf, np.float32), 1)
    return _classifier_steps(torch, _char_gpt, (x, pos, mask), y.reshape(-1),
                             lambda o, p: o.AdamW(p, lr=3e-4), classes=GPT_VOCAB)


def _dcgan_steps(torch, rng):
    import dlcore as dl
    from ..models import DCDiscriminator, DCGenerator
    from .gan import gan_step, torch_dcgan
    B, Z = 64, 32
    real = rng.uniform(-1, 1, (B, 1, 28, 28)).astype(np.float32)
    z = rng.standard_normal((B, Z)).astype(np.float32)
    dl.manual_seed(0)
    G, D = DCGenerator(Z, 28, 1, 32), DCDiscriminator(28, 1, 32)
    if torch is not None:
        tg, td = torch_dcgan(torch, G, D)     # before any step: the same weights
    opt_g = dl.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = dl.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    labels = [dl.tensor(np.full((B, 1), v, np.float32)) for v in (1.0, 0.9, 0.0)]
    dl_step = gan_step(dl, G, D, opt_g, opt_d, dl.tensor(real), dl.tensor(z), labels)
    if torch is None:
        return dl_step, None
    topt_g = torch.optim.Adam(tg.parameters(), lr=2e-4, betas=(0.5, 0.999))
    topt_d = torch.optim.Adam(td.parameters(), lr=2e-4, betas=(0.5, 0.999))
    tlabels = [torch.full((B, 1), v) for v in (1.0, 0.9, 0.0)]
    torch_step = gan_step(torch, tg, td, topt_g, topt_d, torch.from_numpy(real),
                           torch.from_numpy(z), tlabels)
    return dl_step, torch_step


def steps(case, torch=None):
    """(dlcore step, torch step or None) for a case name in CASES."""
    rng = np.random.default_rng(0)
    if case == "lenet b64":
        x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, 64)
        return _classifier_steps(torch, _lenet, (x,), y,
                                 lambda o, p: o.SGD(p, lr=0.01, momentum=0.9))
    if case == "resnet18 b32 64x64":
        x = rng.standard_normal((32, 3, 64, 64)).astype(np.float32)
        y = rng.integers(0, 10, 32)
        return _classifier_steps(torch, _resnet18, (x,), y,
                                 lambda o, p: o.SGD(p, lr=0.01, momentum=0.9,
                                                    weight_decay=5e-4))
    if case == "char-gpt b32":
        return _gpt_steps(torch, rng)
    if case == "dcgan b64 28x28":
        return _dcgan_steps(torch, rng)
    raise ValueError("train_steps: unknown case %r (cases: %s)" % (case, ", ".join(CASES)))


def _time_sides(sides, threads, rounds, warmup):
    clock = time.process_time if threads == 1 else time.perf_counter
    best = {k: float("inf") for k in sides}
    names = list(sides)
    for i in range(warmup + rounds):
        order = names if i % 2 == 0 else names[::-1]
        for k in order:
            t0 = clock()
            sides[k]()
            dt = clock() - t0
            if i >= warmup:
                best[k] = min(best[k], dt)
    return {k: v * 1e3 for k, v in best.items()}


def run(threads=(1, 2), quick=False, cases=None, rounds=None, warmup=2):
    torch = get_torch()
    rows = []
    names = cases or (QUICK if quick else CASES)
    rounds = rounds or (4 if quick else 10)
    for case in names:
        for nt in threads:
            with threads_scope(nt):
                dl_step, torch_step = steps(case, torch)
                if torch_step is not None:
                    a, b = dl_step(), torch_step()
                    if not abs(a - b) <= RTOL * max(abs(a), abs(b)):
                        raise MismatchError("%s: first-step loss %.6g in dlcore, %.6g in torch "
                                            "(same weights and batch)" % (case, a, b))
                sides = {"dlcore": dl_step}
                if torch_step is not None:
                    sides["torch"] = torch_step
                ms = _time_sides(sides, nt, rounds, warmup)
            rows.append(row(case, nt, ms["dlcore"], None, ms.get("torch"),
                            clock="cpu" if nt == 1 else "wall"))
    return rows
