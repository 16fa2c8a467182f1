"""Tensor creation, dtypes, NumPy interop, shape ops, indexing, reductions and errors."""
import numpy as np
import pytest

import dlcore as dl


def test_creation_dtypes():
    assert dl.tensor([1.0, 2.0]).dtype == dl.float32
    assert dl.tensor([1, 2]).dtype == dl.int64
    assert dl.tensor([True]).dtype == dl.bool
    assert dl.tensor(np.zeros(2)).dtype == dl.float64
    assert dl.zeros(2, 3).shape == (2, 3)
    assert dl.ones((2, 3), dtype=dl.float64).dtype == dl.float64
    assert dl.full((2,), 7).dtype == dl.int64
    assert dl.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert dl.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert dl.arange(0, 1, 0.25).dtype == dl.float32
    assert dl.linspace(0, 1, 5).tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert dl.eye(3).numpy().trace() == 3
    assert dl.empty(4).shape == (4,)
    assert dl.randint(0, 10, (100,)).numpy().max() < 10


def test_seeded_random_is_reproducible():
    dl.manual_seed(3)
    a = dl.randn(5)
    dl.manual_seed(3)
    b = dl.randn(5)
    assert a.equal(b)
    g = dl.Generator().manual_seed(1)
    c = dl.rand(3, generator=g)
    g = dl.Generator().manual_seed(1)
    assert c.equal(dl.rand(3, generator=g))


def test_from_numpy_shares_memory_and_tensor_copies():
    a = np.zeros(3, dtype=np.float32)
    t = dl.from_numpy(a)
    a[0] = 5
    assert t[0].item() == 5
    c = dl.tensor(a)
    a[1] = 7
    assert c[1].item() == 0
    assert t.numpy() is a
    assert np.asarray(t) is a


def test_python_scalars_keep_float32():
    x = dl.ones(3)
    for y in (x * 2.5, 2.5 * x, x + 1, x / 3, 1 - x, x ** 2, 2 ** x):
        assert y.dtype == dl.float32


def test_arithmetic_matches_numpy(rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4,)).astype(np.float32)
    ta, tb = dl.tensor(a), dl.tensor(b)
    np.testing.assert_allclose((ta + tb).numpy(), a + b)
    np.testing.assert_allclose((ta * tb - ta / (tb + 3)).numpy(), a * b - a / (b + 3), rtol=1e-6)
    np.testing.assert_allclose(ta.exp().numpy(), np.exp(a), rtol=1e-6)
    np.testing.assert_allclose((ta @ tb).numpy(), a @ b, rtol=1e-5)
    assert (ta > 0).dtype == dl.bool
    np.testing.assert_array_equal((ta > tb).numpy(), a > b)


def test_reductions_match_numpy(rng):
    a = rng.standard_normal((3, 4, 5))
    t = dl.tensor(a)
    np.testing.assert_allclose(t.sum().item(), a.sum())
    np.testing.assert_allclose(t.sum((0, 2)).numpy(), a.sum((0, 2)))
    np.testing.assert_allclose(t.mean(1, keepdim=True).numpy(), a.mean(1, keepdims=True))
    np.testing.assert_allclose(t.var(2).numpy(), a.var(2, ddof=1))
    np.testing.assert_allclose(t.std(unbiased=False).item(), a.std())
    v, i = t.max(1)
    np.testing.assert_allclose(v.numpy(), a.max(1))
    np.testing.assert_array_equal(i.numpy(), a.argmax(1))
    assert i.dtype == dl.int64
    assert t.argmax().item() == a.argmax()
    np.testing.assert_array_equal(t.argmin(2, keepdim=True).numpy(), a.argmin(2)[..., None])
    np.testing.assert_allclose(t.logsumexp(1).numpy(), np.log(np.exp(a).sum(1)))


@pytest.mark.parametrize("n", [0, 1, 7, 17, 33, 100, 1031])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_of_squares_matches_numpy(rng, isa, n, dtype):
    from dlcore.ops.reduce import sum_of_squares
    a = rng.standard_normal(n).astype(dtype)
    ref = float(np.sum(a.astype(np.float64) ** 2))
    assert sum_of_squares(dl.tensor(a)) == pytest.approx(ref, rel=1e-12, abs=1e-12)
    if n > 2:
        m = rng.standard_normal((n, 3)).astype(dtype)
        strided = dl.from_numpy(m[:, 1])  # not contiguous
        assert sum_of_squares(strided) == pytest.approx(float(np.sum(m[:, 1].astype(
            np.float64) ** 2)), rel=1e-12)


def test_sum_of_squares_checks_its_input():
    from dlcore.ops.reduce import sum_of_squares
    with pytest.raises(TypeError, match="sum_of_squares: input must be float32 or float64, got "
                                        "int64"):
        sum_of_squares(dl.tensor([1, 2]))
    with pytest.raises(TypeError, match="sum_of_squares: input must be a Tensor, got list"):
        sum_of_squares([1.0, 2.0])


def test_shape_ops(rng):
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    t = dl.tensor(a)
    assert t.reshape(4, -1).shape == (4, 6)
    assert t.view(-1).shape == (24,)
    assert t.flatten(1).shape == (2, 12)
    assert t.unsqueeze(0).shape == (1, 2, 3, 4)
    assert t.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert t[:, :1].squeeze(1).shape == (2, 4)
    assert t.permute(2, 0, 1).shape == (4, 2, 3)
    assert t.transpose(0, 2).shape == (4, 3, 2)
    assert t[0].T.shape == (4, 3)
    assert t[:, :1].expand(2, 3, 4).shape == (2, 3, 4)
    assert t[:, :1].expand(-1, 5, -1).shape == (2, 5, 4)
    np.testing.assert_array_equal(t.repeat(2, 1, 1).numpy(), np.tile(a, (2, 1, 1)))
    parts = t.split(2, dim=2)
    assert [p.shape[2] for p in parts] == [2, 2]
    assert [c.shape[1] for c in t.chunk(2, 1)] == [2, 1]
    np.testing.assert_array_equal(dl.cat([t, t], 1).numpy(), np.concatenate([a, a], 1))
    assert dl.stack([t, t], 0).shape == (2, 2, 3, 4)
    idx = dl.tensor(np.zeros((2, 3, 1), dtype=np.int64))
    np.testing.assert_array_equal(t.gather(2, idx).numpy(), a[..., :1])
    np.testing.assert_array_equal(t[0].tril().numpy(), np.tril(a[0]))
    np.testing.assert_array_equal(t[0].triu(1).numpy(), np.triu(a[0], 1))
    assert t.contiguous() is t
    assert t.transpose(0, 1).contiguous().is_contiguous()


def test_indexing(rng):
    a = rng.standard_normal((4, 5)).astype(np.float32)
    t = dl.tensor(a)
    np.testing.assert_array_equal(t[1:3, ::2].numpy(), a[1:3, ::2])
    np.testing.assert_array_equal(t[[0, 0, 3]].numpy(), a[[0, 0, 3]])
    np.testing.assert_array_equal(t[t > 0].numpy(), a[a > 0])
    np.testing.assert_array_equal(t[..., None].numpy(), a[..., None])
    np.testing.assert_array_equal(t[dl.tensor([1, 2]), 3].numpy(), a[[1, 2], 3])
    t2 = t.clone()
    t2[0] = 1.0
    assert t2[0].tolist() == [1.0] * 5
    assert t[0, 0].item() == pytest.approx(float(a[0, 0]))
    with pytest.raises(IndexError):
        t[10]


def test_masked_fill_and_where():
    t = dl.tensor([[1.0, -1.0], [-2.0, 3.0]])
    assert t.masked_fill(t < 0, 0.0).tolist() == [[1.0, 0.0], [0.0, 3.0]]
    assert dl.where(t > 0, t, dl.zeros(2, 2)).tolist() == [[1.0, 0.0], [0.0, 3.0]]
    assert dl.where(t > 0, t, 0.0).tolist() == [[1.0, 0.0], [0.0, 3.0]]


def test_item_tolist_repr_and_conversions():
    t = dl.tensor([[1.5]])
    assert t.item() == 1.5 and float(t) == 1.5
    assert "tensor(" in repr(t)
    assert dl.tensor([1, 2]).float().dtype == dl.float32
    assert dl.tensor([1.7]).long().tolist() == [1]
    assert dl.ones(2).to(dl.float64).dtype == dl.float64
    assert dl.ones(2).double().dtype == dl.float64
    assert len(dl.ones(3, 2)) == 3
    with pytest.raises(ValueError, match="one-element"):
        dl.ones(2).item()


def test_sort_topk():
    t = dl.tensor([3.0, 1.0, 2.0])
    v, i = t.sort()
    assert v.tolist() == [1, 2, 3] and i.tolist() == [1, 2, 0]
    v, i = t.topk(2)
    assert v.tolist() == [3, 2] and i.tolist() == [0, 2]


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: dl.ones(2, 3) + dl.ones(4), ValueError, "broadcast"),
    (lambda: dl.ones(2, 3) @ dl.ones(4, 2), ValueError, "cannot be multiplied"),
    (lambda: dl.ones(2, 3) @ dl.ones(3, 2, dtype=dl.float64), TypeError, "same dtype"),
    (lambda: dl.ones(6).reshape(4, -1), ValueError, "invalid for input of size 6"),
    (lambda: dl.ones(2, 3).sum(2), IndexError, "out of range"),
    (lambda: dl.ones(2, 3).permute(0, 0), ValueError, "permutation"),
    (lambda: dl.ones(2, 3).expand(4, 3, 2), ValueError, "expand"),
    (lambda: dl.cat([dl.ones(2, 3), dl.ones(3, 3)], 1), ValueError, "does not match"),
    (lambda: dl.stack([dl.ones(2), dl.ones(3)]), ValueError, "expected"),
    (lambda: dl.tensor(["a"]), TypeError, "cannot build"),
    (lambda: dl.zeros(2, device="cuda"), ValueError, "CPU only"),
    (lambda: dl.ones(2, dtype=dl.int64).requires_grad_(), RuntimeError, "floating point"),
    (lambda: dl.ones(2).masked_fill(dl.ones(2), 0.0), TypeError, "bool"),
    (lambda: dl.ones(2, 3).gather(1, dl.ones(2, 3)), TypeError, "integer"),
    (lambda: dl.ones(2, 3).clamp(), ValueError, "at least one"),
])
def test_errors_are_clear(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


@pytest.mark.parametrize("sa,sb", [((1, 1), (1, 1)), ((7, 13), (13, 5)), ((2, 33, 17), (17, 9)),
                                   ((3, 1, 4, 6), (5, 6, 2)), ((100,), (100, 3))])
def test_matmul_matches_numpy(rng, sa, sb):
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    np.testing.assert_allclose((dl.tensor(a) @ dl.tensor(b)).numpy(), a @ b, rtol=1e-4, atol=1e-5)


def test_matmul_reads_transposed_and_strided_views(rng):
    a = rng.standard_normal((9, 6)).astype(np.float32)
    b = rng.standard_normal((5, 6)).astype(np.float32)
    ta, tb = dl.tensor(a), dl.tensor(b)
    np.testing.assert_allclose((ta @ tb.T).numpy(), a @ b.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose((ta.T @ ta).numpy(), a.T @ a, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose((ta[::2, 1:] @ tb[:, 1:].T).numpy(), a[::2, 1:] @ b[:, 1:].T,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose((ta[:, ::2].T @ ta[:, ::2]).numpy(), a[:, ::2].T @ a[:, ::2],
                               rtol=1e-5, atol=1e-5)


def test_matmul_empty_inner_dim():
    assert (dl.ones(3, 0) @ dl.ones(0, 2)).tolist() == [[0.0, 0.0]] * 3


def test_integer_matmul_falls_back():
    assert (dl.tensor([[1, 2]]) @ dl.tensor([[3], [4]])).tolist() == [[11]]


def test_int16_is_torchs_short():
    assert dl.int16 is dl.short and dl.int16 == np.int16
    a = dl.ones((2, 3), dtype=dl.int16)
    assert a.dtype == dl.int16 and a.tolist() == [[1] * 3] * 2
    assert dl.tensor([1.7, -2.2]).short().tolist() == [1, -2]
    assert (a + dl.ones(3, dtype=dl.int8)).dtype == dl.int16
    assert (a + dl.ones(3, dtype=dl.uint8)).dtype == dl.int16
    assert (a + dl.ones(3, dtype=dl.int32)).dtype == dl.int32
    assert (a * 2.5).dtype == dl.float32 and (a * 2).dtype == dl.int16
    assert a.sum().dtype == dl.int64 and (a / 2).dtype == dl.float32
