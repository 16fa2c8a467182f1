"""unfold (im2col) / fold (col2im) and the Fold / Unfold layers against torch, gradcheck,
the adjoint identity <unfold(x), y> == <x, fold(y)>, argument errors."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from _torch_parity import check, gradcheck

torch = pytest.importorskip("torch")

GEOMS = [dict(kernel_size=2), dict(kernel_size=(2, 3), stride=2, padding=1),
         dict(kernel_size=3, dilation=2, padding=(2, 1)), dict(kernel_size=1, stride=(1, 2))]


@pytest.mark.parametrize("kw", GEOMS)
def test_unfold_fold_match_torch(kw):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 8))
    check(lambda a: F.unfold(a, **kw), lambda a: torch.nn.functional.unfold(a, **kw), [x])
    check(dl.nn.Unfold(**kw), torch.nn.Unfold(**kw), [x[0]])
    cols = F.unfold(dl.tensor(x), **kw).numpy()
    y = rng.standard_normal(cols.shape)
    check(lambda c: F.fold(c, (7, 8), **kw),
          lambda c: torch.nn.functional.fold(c, (7, 8), **kw), [y])
    check(dl.nn.Fold((7, 8), **kw), torch.nn.Fold((7, 8), **kw), [y])
    # adjoint: <unfold(x), y> == <x, fold(y)>
    lhs = float((cols * y).sum())
    rhs = float((x * F.fold(dl.tensor(y), (7, 8), **kw).numpy()).sum())
    assert abs(lhs - rhs) < 1e-9 * max(1.0, abs(lhs))
    gradcheck(lambda a: F.unfold(a, **kw), [x[:1, :2]])
    gradcheck(lambda c: F.fold(c, (7, 8), **kw), [y[:1]])


def test_errors():
    with pytest.raises(ValueError, match="do not fit"):
        F.unfold(dl.randn(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match="blocks"):
        F.fold(dl.randn(1, 4, 5), (3, 3), 2)
    with pytest.raises(ValueError, match="divisible by kernel_size product"):
        F.fold(dl.randn(1, 5, 4), (3, 3), 2)
    with pytest.raises(ValueError, match="4-D"):
        F.unfold(dl.randn(3, 3), 2)
