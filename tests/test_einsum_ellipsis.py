"""einsum with '...', implicit outputs, repeated letters and list operands: values and
gradients (first and second order) against torch's."""
import numpy as np
import pytest

import dlcore as dl

CASES = [
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk", [(2, 3, 4), (1, 4, 5)]),            # broadcast '...' and implicit output
    ("bij,bjk", [(2, 3, 4), (2, 4, 5)]),                # implicit: repeated b is summed
    ("i...,i...->...", [(3, 2, 5), (3, 1, 5)]),
    ("...,...", [(2, 3), (3,)]),
    ("i,j", [(3,), (4,)]),
    ("b...h,bh->b...", [(2, 3, 4, 5), (2, 5)]),
    ("...ii->...i", [(2, 3, 3)]),                       # a diagonal
    ("ii", [(4, 4)]),                                   # the trace
    ("iji->j", [(3, 2, 3)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
]


@pytest.mark.parametrize("eq,shapes", CASES, ids=[c[0] for c in CASES])
def test_einsum_matches_torch(eq, shapes, torch):
    rng = np.random.default_rng(len(eq))
    arrays = [rng.standard_normal(s) for s in shapes]
    res = []
    for m in (dl, torch):
        xs = [m.tensor(a.copy(), requires_grad=True) for a in arrays]
        out = m.einsum(eq, *xs)
        loss = (out * out).sum()
        grads = m.autograd.grad(loss, xs, create_graph=True)
        second = m.autograd.grad(sum((g * g).sum() for g in grads), xs)
        res.append((out.detach().numpy(), [g.detach().numpy() for g in grads],
                    [g.numpy() for g in second]))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-10, atol=1e-12)
    for a, b in zip(res[0][1] + res[0][2], res[1][1] + res[1][2]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_operands_as_a_list(torch):
    a, b = np.ones((2, 3)), np.ones((3, 4))
    np.testing.assert_array_equal(dl.einsum("ij,jk->ik", [dl.tensor(a), dl.tensor(b)]).numpy(),
                                  torch.einsum("ij,jk->ik", [torch.tensor(a), torch.tensor(b)]).numpy())


@pytest.mark.parametrize("eq,shapes,match", [
    ("ij,jk->ik", [(2, 3)], "2 operands, 1 were given"),
    ("...ij,...jk", [(2, 3, 4), (3, 4, 5)], "do not broadcast"),
    ("ij", [(2, 3, 4)], "has 3 dimensions"),
    ("ii", [(2, 3)], "sizes 2 and 3"),
    ("i.j", [(2, 3)], "'...'"),
])
def test_bad_equations_raise(eq, shapes, match):
    with pytest.raises(ValueError, match=match):
        dl.einsum(eq, *[dl.ones(*s) for s in shapes])
