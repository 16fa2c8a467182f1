"""The COO sparse tensor: construction and its errors, coalesce (duplicates summed, sorted),
to_dense / to_sparse round trips, sparse.mm against torch with gradients for the dense side and
the values, float64 gradcheck, and a two-layer GCN step matching torch."""
import numpy as np
import pytest

import dlcore as dl
from _torch_parity import check, gradcheck

torch = pytest.importorskip("torch")


def _coo(rng, n=6, m=5, nnz=12):
    idx = np.stack([rng.integers(0, n, nnz), rng.integers(0, m, nnz)])
    vals = rng.standard_normal(nnz)
    return idx, vals


def test_construct_coalesce_and_to_dense_match_torch():
    rng = np.random.default_rng(0)
    idx, vals = _coo(rng)
    idx[:, 1] = idx[:, 0]  # a duplicate
    s = dl.sparse_coo_tensor(idx, vals, (6, 5), dtype=dl.float64)
    ts = torch.sparse_coo_tensor(torch.tensor(idx), torch.tensor(vals), (6, 5))
    assert s.is_sparse and s.shape == (6, 5) and s._nnz() == 12 and not s.is_coalesced()
    np.testing.assert_allclose(s.to_dense().numpy(), ts.to_dense().numpy())
    c, tc = s.coalesce(), ts.coalesce()
    np.testing.assert_array_equal(c.indices().numpy(), tc.indices().numpy())
    np.testing.assert_allclose(c.values().numpy(), tc.values().numpy())
    with pytest.raises(RuntimeError, match="uncoalesced"):
        s.indices()
    np.testing.assert_array_equal(s._indices().numpy(), idx)
    inferred = dl.sparse_coo_tensor(idx, vals)
    assert inferred.shape == tuple(idx.max(1) + 1)


def test_to_sparse_roundtrip():
    x = dl.tensor(np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]]))
    s = x.to_sparse()
    t = torch.tensor(x.numpy()).to_sparse()
    np.testing.assert_array_equal(s.indices().numpy(), t.indices().numpy())
    np.testing.assert_array_equal(s.values().numpy(), t.values().numpy())
    np.testing.assert_array_equal(s.to_dense().numpy(), x.numpy())
    assert not x.is_sparse and x.to_dense() is x


@pytest.mark.parametrize("k", [1, 4])
def test_sparse_mm_matches_torch(k):
    rng = np.random.default_rng(1)
    idx, vals = _coo(rng)
    dense = rng.standard_normal((5, k))

    def ours(v, d):
        return dl.sparse.mm(dl.sparse_coo_tensor(idx, v, (6, 5)), d)

    def theirs(v, d):
        return torch.sparse.mm(torch.sparse_coo_tensor(torch.tensor(idx), v, (6, 5)), d)
    check(ours, theirs, [vals, dense])
    gradcheck(ours, [vals, dense])
    s = dl.sparse_coo_tensor(idx, vals, (6, 5))
    np.testing.assert_allclose((s @ dl.tensor(dense)).numpy(), dl.spmm(s, dl.tensor(dense))
                               .numpy())
    gradcheck(lambda v: dl.sparse_coo_tensor(idx, v, (6, 5)).to_dense(), [vals])


def test_gcn_layer_step_matches_torch():
    rng = np.random.default_rng(2)
    n, f, h = 7, 4, 3
    edges = np.array([[0, 1, 2, 3, 4, 5, 6, 0], [1, 2, 3, 4, 5, 6, 0, 3]])
    edges = np.concatenate([edges, edges[::-1], np.stack([np.arange(n)] * 2)], axis=1)
    deg = np.bincount(edges[0], minlength=n).astype(np.float32)
    vals = (1 / np.sqrt(deg[edges[0]] * deg[edges[1]])).astype(np.float32)
    x = rng.standard_normal((n, f)).astype(np.float32)
    w1 = (rng.standard_normal((f, h)) * 0.5).astype(np.float32)

    def ours(xx, w):
        adj = dl.sparse_coo_tensor(edges, dl.tensor(vals), (n, n))
        return dl.sparse.mm(adj, (dl.sparse.mm(adj, xx @ w)).relu())

    def theirs(xx, w):
        adj = torch.sparse_coo_tensor(torch.tensor(edges), torch.tensor(vals), (n, n))
        return torch.sparse.mm(adj, (torch.sparse.mm(adj, xx @ w)).relu())
    check(ours, theirs, [x, w1], rtol=1e-5, atol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="2-D"):
        dl.sparse_coo_tensor(np.array([0, 1]), np.ones(2))
    with pytest.raises(ValueError, match="one entry per index column"):
        dl.sparse_coo_tensor(np.zeros((2, 3), dtype=np.int64), np.ones(2))
    with pytest.raises(ValueError, match="out of bounds"):
        dl.sparse_coo_tensor(np.array([[0, 5], [0, 1]]), np.ones(2), (3, 3))
    s = dl.sparse_coo_tensor(np.array([[0, 1], [0, 1]]), np.ones(2, dtype=np.float32), (2, 2))
    with pytest.raises(ValueError, match="cannot be multiplied"):
        dl.sparse.mm(s, dl.ones(3, 1))
    with pytest.raises(TypeError, match="same dtype"):
        dl.sparse.mm(s, dl.ones(2, 1, dtype=dl.float64))
    with pytest.raises(TypeError, match="mat1 must be a sparse"):
        dl.sparse.mm(dl.ones(2, 2), dl.ones(2, 2))
