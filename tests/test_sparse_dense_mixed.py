"""Dense and sparse COO operands mixed as pytorch/examples' GCN does (eye(V) + adjacency,
D @ A @ D with sparse diagonals, torch.mm(sparse features, weight), torch.mm(dense, sparse)):
values and gradients against torch."""
import warnings

import numpy as np
import pytest

import dlcore as dl

IDX = np.array([[0, 1, 1, 2], [2, 0, 2, 1]])
VALS = np.array([3.0, 4.0, 5.0, -1.0])


def _pair(torch, dtype=np.float64):
    vd = dl.tensor(VALS.astype(dtype), requires_grad=True)
    vt = torch.tensor(VALS.astype(dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st = torch.sparse_coo_tensor(torch.tensor(IDX), vt, (3, 3))
    return vd, dl.sparse_coo_tensor(dl.tensor(IDX), vd, (3, 3)), vt, st


def test_dense_plus_minus_sparse_is_dense(torch):
    rng = np.random.default_rng(0)
    d = rng.standard_normal((3, 3))
    for op in (lambda a, b: a + b, lambda a, b: a - b):
        vd, sd, vt, st = _pair(torch)
        dd, dt = dl.tensor(d, requires_grad=True), torch.tensor(d, requires_grad=True)
        od, ot = op(dd, sd), op(dt, st)
        assert not od.is_sparse and ot.layout == torch.strided
        np.testing.assert_allclose(od.numpy(), ot.detach().numpy())
        w = rng.standard_normal((3, 3))
        (od * dl.tensor(w)).sum().backward()
        (ot * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(dd.grad.numpy(), dt.grad.numpy())
        np.testing.assert_allclose(vd.grad.numpy(), vt.grad.numpy())


def test_sparse_plus_sparse_stays_sparse(torch):
    _, sd, _, st = _pair(torch)
    od, ot = sd + sd, st + st
    assert od.is_sparse and ot.layout == torch.sparse_coo
    np.testing.assert_allclose(od.to_dense().detach().numpy(), ot.to_dense().detach().numpy())
    np.testing.assert_allclose((sd - sd).to_dense().detach().numpy(), np.zeros((3, 3)))
    with pytest.raises(TypeError, match="dense \\+ sparse"):
        sd + dl.ones(3, 3)
    with pytest.raises(ValueError, match="shapes"):
        sd + dl.sparse_coo_tensor(dl.tensor([[0], [0]]), dl.tensor([1.0], dtype=dl.float64),
                                  (2, 2))


def test_dense_matmul_sparse_and_mm_both_ways(torch):
    rng = np.random.default_rng(1)
    d = rng.standard_normal((2, 3))
    for fd, ft in ((lambda dd, sd: dd @ sd, lambda dt, st: dt @ st),
                   (lambda dd, sd: dl.mm(dd, sd), lambda dt, st: torch.mm(dt, st)),
                   (lambda dd, sd: dl.mm(sd, dd.t()), lambda dt, st: torch.mm(st, dt.t()))):
        vd, sd, vt, st = _pair(torch)
        dd, dt = dl.tensor(d, requires_grad=True), torch.tensor(d, requires_grad=True)
        od, ot = fd(dd, sd), ft(dt, st)
        assert not od.is_sparse
        np.testing.assert_allclose(od.numpy(), ot.detach().numpy())
        od.sum().backward()
        ot.sum().backward()
        np.testing.assert_allclose(dd.grad.numpy(), dt.grad.numpy())
        np.testing.assert_allclose(vd.grad.numpy(), vt.grad.numpy())
    with pytest.raises(TypeError, match="2-D Tensor"):
        dl.ones(3, dtype=dl.float64) @ sd


def test_gcn_normalisation_matches_torch(torch):
    """load_cora's renormalisation trick, step by step."""
    V = 5
    edges = np.array([[0, 1], [1, 2], [3, 4], [4, 0]]).T
    outs = []
    for lib in (dl, torch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            adj = lib.sparse_coo_tensor(lib.tensor(edges), lib.ones(edges.shape[1]), (V, V))
        adj = lib.eye(V) + adj
        deg = lib.sqrt(1 / lib.sum(adj, dim=1))
        deg = lib.diag(deg).to_sparse()
        outs.append((deg @ adj @ deg).to_sparse().to_dense())
    np.testing.assert_allclose(outs[0].numpy(), outs[1].numpy(), rtol=1e-6)
