"""The small-map convolution path (output maps under 128 pixels, several images per GEMM
tile): im2col from zero-padded planes and col2im per whole image (on AVX-512, rows of up to
16 padded columns gathered in a register).  Checked on every ISA and thread count against
the NumPy reference (forward, transposed forward) and against the per-image path (a column
budget of one byte forces it; its float64 kernels are gradchecked in test_conv.py); float64
gradcheck through conv2d / conv_transpose2d at batch 2 (so the small-map path runs);
torch parity of nn.ConvTranspose2d / nn.Conv2d at DCGAN's 4x4 stride-2 shapes; and non-finite
inputs reaching exactly the outputs they feed."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import _C
import dlcore.nn.functional as F
from _torch_parity import layer_forward_backward
from test_conv import ref_conv2d, ref_conv_transpose2d

# (N, C, H, W, K, (R, S), stride, padding, dilation, groups); every case has P = OH*OW < 128
# and N >= 3, so that at 2 threads too each thread's tile holds several images
CASES = [
    # DCGAN's discriminator layer: 7x7 output, padded rows of exactly 16 columns
    (5, 6, 14, 14, 7, (4, 4), (2, 2), (1, 1), (1, 1), 1),
    # odd sizes: 7x6 output, padded rows of 14, the last row and column of x padding
    (3, 4, 15, 13, 5, (4, 4), (2, 2), (1, 1), (1, 1), 1),
    # no padding and an unread last row and column of x (8x8 input, 3x3 stride 2 reads 7x7)
    (3, 4, 8, 8, 6, (3, 3), (2, 2), (0, 0), (1, 1), 1),
    # groups, unequal padding
    (3, 4, 9, 11, 6, (4, 4), (2, 2), (2, 1), (1, 1), 2),
    # dilation at stride 1
    (3, 3, 10, 10, 4, (3, 3), (1, 1), (2, 2), (2, 2), 1),
    # stride 3 (the runs' portable loops; col2im's register gather at any stride)
    (3, 3, 9, 9, 4, (3, 3), (3, 3), (1, 1), (1, 1), 1),
    # padded rows wider than 16 (the padded-plane path): 13 outputs at stride 2 (two loads a
    # run), 17 at stride 2 (more than one vector a run), 16 at stride 1
    (3, 2, 10, 26, 3, (4, 4), (2, 2), (1, 1), (1, 1), 1),
    (3, 2, 8, 34, 3, (4, 4), (2, 2), (1, 1), (1, 1), 1),
    (3, 3, 6, 16, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    # a single output row, a kernel as large as the padded input
    (4, 2, 3, 9, 3, (5, 3), (1, 2), (1, 1), (1, 1), 1),
    # unequal strides with dilation (AVX2's phase planes: rows split, columns not, and the
    # other way round)
    (3, 4, 11, 9, 6, (2, 3), (2, 1), (1, 2), (2, 2), 2),
    (3, 3, 9, 12, 4, (3, 2), (1, 2), (2, 0), (2, 3), 1),
    # a wide kernel row at dilation 3 (runs starting far into a phase row)
    (3, 2, 5, 30, 3, (1, 5), (1, 1), (0, 2), (1, 3), 1),
]


def _t(a, grad=False):
    return dl.tensor(a, requires_grad=grad)


def _conv_fwd_bwd(x, w, b, gy, st, pd, dil, g, per_image):
    """conv2d's output and its (x, w, b) gradients for the output gradient gy; per_image:
    through the per-image path (a column budget of one byte), else the default budget."""
    ts = [_t(x, True), _t(w, True), _t(b, True)]
    try:
        _C.conv_workspace_limit(1 if per_image else 0)
        y = F.conv2d(*ts, st, pd, dil, g)
        y.backward(dl.tensor(gy))
    finally:
        _C.conv_workspace_limit(0)
    return [y.numpy()] + [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("case", CASES)
def test_small_maps_every_isa_match_reference(isa, threads, case, rng):
    N, C, H, W, K, (R, S), st, pd, dil, g = case
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((K, C // g, R, S))
    b = rng.standard_normal(K)
    ref = ref_conv2d(x, w, b, st, pd, dil, g)
    assert ref.shape[2] * ref.shape[3] < 128
    gy = rng.standard_normal(ref.shape)
    # float64: the small-map path against the reference (forward) and the per-image path
    want = _conv_fwd_bwd(x, w, b, gy, st, pd, dil, g, per_image=True)
    got64 = _conv_fwd_bwd(x, w, b, gy, st, pd, dil, g, per_image=False)
    np.testing.assert_allclose(got64[0], ref, rtol=1e-10, atol=1e-10)
    for a, e in zip(got64, want):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-10)
    # float32 on this ISA against the float64 results
    f = np.float32
    got32 = _conv_fwd_bwd(x.astype(f), w.astype(f), b.astype(f), gy.astype(f), st, pd, dil, g,
                          per_image=False)
    for a, e in zip(got32, want):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-4 * np.abs(e).max())


# (N, C, H, W, K, (R, S), stride, padding, output_padding, groups, dilation)
TCASES = [
    (4, 6, 7, 7, 5, (4, 4), (2, 2), (1, 1), (0, 0), 1, (1, 1)),    # DCGAN generator layer
    (3, 4, 5, 6, 4, (4, 4), (2, 2), (1, 1), (1, 1), 2, (1, 1)),    # output_padding, groups
    (3, 3, 6, 5, 2, (3, 3), (2, 2), (1, 1), (1, 0), 1, (1, 1)),
    (3, 2, 4, 5, 3, (3, 2), (1, 2), (0, 1), (0, 1), 1, (2, 1)),    # dilation
    (3, 3, 5, 9, 2, (4, 4), (2, 2), (1, 1), (0, 0), 1, (1, 1)),    # 18 columns: padded planes
    (2, 4, 5, 7, 6, (2, 3), (2, 1), (0, 0), (0, 0), 2, (2, 2)),    # unequal strides, dilation
]


@pytest.mark.parametrize("case", TCASES)
def test_conv_transpose2d_small_maps_every_isa(isa, threads, case, rng):
    """conv_transpose2d's forward is conv2d's input gradient (col2im per image), its backward
    conv2d's forward and weight gradient (im2col per image): against the reference and the
    per-image path, with bias, output_padding, groups and dilation."""
    N, C, H, W, K, (R, S), st, pd, op, g, dil = case
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((C, K // g, R, S))
    b = rng.standard_normal(K)
    ref = ref_conv_transpose2d(x, w, b, st, pd, op, g, dil)
    gy = rng.standard_normal(ref.shape)

    def run(dtype, per_image):
        ts = [_t(a.astype(dtype), True) for a in (x, w, b)]
        try:
            _C.conv_workspace_limit(1 if per_image else 0)
            y = F.conv_transpose2d(*ts, st, pd, op, g, dil)
            y.backward(dl.tensor(gy.astype(dtype)))
        finally:
            _C.conv_workspace_limit(0)
        return [y.numpy()] + [t.grad.numpy() for t in ts]

    want = run(np.float64, True)
    got64 = run(np.float64, False)
    np.testing.assert_allclose(got64[0], ref, rtol=1e-10, atol=1e-10)
    for a, e in zip(got64, want):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-10)
    for a, e in zip(run(np.float32, False), want):
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-4 * np.abs(e).max())


def test_small_maps_gradcheck(one_thread, rng):
    """float64 finite differences through both ops at batch 2 on one thread (the small-map
    path: both images in one tile)."""
    x = _t(rng.standard_normal((2, 3, 6, 5)), True)
    w = _t(rng.standard_normal((4, 3, 4, 4)), True)
    b = _t(rng.standard_normal(4), True)
    assert dl.autograd.gradcheck(lambda a, c, d: F.conv2d(a, c, d, 2, 1), (x, w, b))
    xt = _t(rng.standard_normal((2, 3, 3, 4)), True)
    wt = _t(rng.standard_normal((3, 2, 4, 4)), True)
    bt = _t(rng.standard_normal(2), True)
    assert dl.autograd.gradcheck(lambda a, c, d: F.conv_transpose2d(a, c, d, 2, 1, 1),
                                 (xt, wt, bt))


@pytest.mark.parametrize("cfg", [dict(kernel_size=4, stride=2, padding=1),
                                 dict(kernel_size=4, stride=2, padding=1, output_padding=1),
                                 dict(kernel_size=4, stride=2, padding=2, groups=2)])
def test_conv_transpose2d_dcgan_torch_parity(torch, cfg, rng):
    m = dl.nn.ConvTranspose2d(8, 6, **cfg)
    tm = torch.nn.ConvTranspose2d(8, 6, **cfg)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = rng.standard_normal((5, 8, 7, 7)).astype(np.float32)
    layer_forward_backward(m, tm, x, rng, 1e-4, 1e-5, 1e-4, 1e-4)
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(m.bias.grad.numpy(), tm.bias.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_conv2d_dcgan_torch_parity(torch, rng):
    m = dl.nn.Conv2d(6, 10, 4, stride=2, padding=1)
    tm = torch.nn.Conv2d(6, 10, 4, stride=2, padding=1)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = rng.standard_normal((5, 6, 14, 14)).astype(np.float32)
    layer_forward_backward(m, tm, x, rng, 1e-4, 1e-5, 1e-4, 1e-4)
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-4,
                               atol=1e-4)


def _reach(shape_in, k, s, p, pos):
    """Output positions of a k x k, stride s, padding p convolution that read input pos."""
    oh = (shape_in[0] + 2 * p - k) // s + 1
    ow = (shape_in[1] + 2 * p - k) // s + 1
    mask = np.zeros((oh, ow), bool)
    for i in range(oh):
        for j in range(ow):
            if 0 <= pos[0] + p - i * s < k and 0 <= pos[1] + p - j * s < k:
                mask[i, j] = True
    return mask


@pytest.mark.parametrize("pos", [(0, 0), (6, 13), (13, 7)])
def test_small_maps_non_finite_reach_only_their_outputs(isa, pos, rng):
    """An inf in x reaches exactly the outputs whose window holds it (no lane of a padded row
    or of a masked run mixes it into another output); an inf in the output gradient reaches
    exactly the inputs it is propagated to (col2im's register gather)."""
    f = np.float32
    x = rng.standard_normal((3, 2, 14, 14)).astype(f)
    w = np.abs(rng.standard_normal((3, 2, 4, 4))).astype(f) + 0.1
    x[1, 1][pos] = np.inf
    y = F.conv2d(_t(x), _t(w), None, 2, 1).numpy()
    reach = _reach((14, 14), 4, 2, 1, pos)
    assert np.isinf(y[1][:, reach]).all()
    assert np.isfinite(y[1][:, ~reach]).all() and np.isfinite(y[[0, 2]]).all()
    # the transposed direction: gy with an inf at output pos' -> gx infinite only under it
    gy = rng.standard_normal((3, 3, 7, 7)).astype(f)
    o = (pos[0] // 2, pos[1] // 2)
    gy[2, 0][o] = np.inf
    xt, wt = _t(np.ones_like(x), True), _t(w)
    F.conv2d(xt, wt, None, 2, 1).backward(dl.tensor(gy))
    gx = xt.grad.numpy()
    fed = np.zeros((14, 14), bool)
    for i in range(14):
        for j in range(14):
            fed[i, j] = _reach((14, 14), 4, 2, 1, (i, j))[o]
    assert np.isinf(gx[2][:, fed]).all()
    assert np.isfinite(gx[2][:, ~fed]).all() and np.isfinite(gx[[0, 1]]).all()
