"""Benchmark of the DataLoader: one shuffled epoch of an MNIST-sized TensorDataset.

dlcore's loader batches a TensorDataset by fancy-indexing each array once per batch; the NumPy
reference is that same loop written by hand (the floor); torch's DataLoader collates sample by
sample.  A generic (list) dataset shows what the per-sample path costs in dlcore.  Before
timing, one epoch of each dlcore loader is checked: every sample exactly once, each batch's
features with their own labels, batch sizes as asked (check_epoch).
"""
import numpy as np

from . import format_table as _format_table
from . import MismatchError, get_torch, row, threads as _threads, time_ms

__all__ = ["run", "format_table"]


def _drain(loader):
    # batches are dropped as a training loop would drop them: keeping them all would time
    # page faults on fresh memory instead of the loader
    for _ in loader:
        pass


def _arrays(batch):
    return [np.asarray(getattr(b, "_data", b)) for b in batch]


def check_epoch(case, loader, X, y, batch_size):
    """Raise MismatchError unless one epoch of `loader` yields every row of (X, y) exactly once,
    each feature row with its own label, in batches of batch_size (the last one the rest).

    Rows are identified by a random projection of their features (float64: distinct for
    distinct rows of random data), so the check is one sort, not a search."""
    probe = np.random.default_rng(12345).standard_normal(X.shape[1])
    key = X.astype(np.float64) @ probe
    order = np.argsort(key, kind="stable")
    xs, ys, sizes = [], [], []
    for batch in loader:
        bx, by = _arrays(batch)
        xs.append(bx.reshape(len(bx), -1))
        ys.append(by.reshape(-1))
        sizes.append(len(bx))
    n = len(X)
    want_sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    if sizes != want_sizes:
        raise MismatchError("data %s: batch sizes %s..., expected %s..." % (
            case, sizes[:3] + ["..."] + sizes[-2:], want_sizes[:3] + ["..."] + want_sizes[-2:]))
    bx, by = np.concatenate(xs), np.concatenate(ys)
    got = bx.astype(np.float64) @ probe
    perm = np.argsort(got, kind="stable")
    if not np.array_equal(got[perm], key[order]) or not np.array_equal(bx[perm], X[order]):
        raise MismatchError("data %s: one epoch does not hold every sample exactly once" % case)
    if not np.array_equal(by[perm], y[order]):
        bad = int(np.count_nonzero(by[perm] != y[order]))
        raise MismatchError("data %s: %d samples came with another sample's label" % (case, bad))


def run(threads=(1,), quick=False):
    import dlcore as dl
    from dlcore.data import DataLoader, TensorDataset
    n, d, bs = (5000, 784, 64) if quick else (60000, 784, 64)
    repeats = 3 if quick else 5
    g = np.random.default_rng(0)
    X = g.standard_normal((n, d), dtype=np.float32)
    y = g.integers(0, 10, n)
    ds = TensorDataset(X, y)
    items = [(X[i], int(y[i])) for i in range(n)]
    torch = get_torch()
    rows = []
    for t in threads:
        with _threads(t):
            gen = dl.Generator().manual_seed(0)
            loader = DataLoader(ds, batch_size=bs, shuffle=True, generator=gen)
            check_epoch("TensorDataset", loader, X, y, bs)
            dl_ms = time_ms(lambda: _drain(loader), repeats=repeats, warmup=1)

            def numpy_epoch():
                perm = g.permutation(n)
                for s in range(0, n, bs):
                    idx = perm[s:s + bs]
                    batch = (X[idx], y[idx])  # noqa: F841  (dropped, as a training step would)
            np_ms = time_ms(numpy_epoch, repeats=repeats, warmup=1)
            th_ms = None
            if torch is not None:
                tds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
                tl = torch.utils.data.DataLoader(tds, batch_size=bs, shuffle=True)
                th_ms = time_ms(lambda: _drain(tl), repeats=max(1, repeats // 2), warmup=1)
            rows.append(row("TensorDataset %dx%d, batch %d, shuffled" % (n, d, bs), t, dl_ms,
                            np_ms, th_ms, batches=-(-n // bs)))
            generic = DataLoader(items, batch_size=bs, shuffle=True, generator=gen)
            check_epoch("list of samples", generic, X, y, bs)
            gen_ms = time_ms(lambda: _drain(generic), repeats=max(1, repeats // 2),
                             warmup=1)
            rows.append(row("list of (array, int) samples, per-sample collate", t, gen_ms,
                            np_ms, th_ms, batches=-(-n // bs)))
    return rows


def format_table(rows):
    return _format_table(rows)
