"""Helpers for torch-oracle tests: run one function in dlcore and in torch on the same arrays,
compare the outputs and the gradients of a fixed random projection of them."""
import numpy as np

import dlcore as dl


def _outputs(o):
    return list(o) if isinstance(o, (tuple, list)) else [o]


def check(dl_fn, torch_fn, arrays, grad=True, rtol=1e-9, atol=1e-9, seed=0):
    """arrays: NumPy arrays (float ones get requires_grad) or other values passed as they are.
    Returns the dlcore outputs."""
    import torch
    rng = np.random.default_rng(seed)
    dl_in, t_in = [], []
    for a in arrays:
        if isinstance(a, np.ndarray):
            req = grad and a.dtype.kind == "f"
            dl_in.append(dl.tensor(a.copy(), requires_grad=req))
            t_in.append(torch.tensor(a.copy(), requires_grad=req))
        else:
            dl_in.append(a)
            t_in.append(a)
    outs_d = _outputs(dl_fn(*dl_in))
    outs_t = _outputs(torch_fn(*t_in))
    assert len(outs_d) == len(outs_t)
    for od, ot in zip(outs_d, outs_t):
        assert tuple(od.shape) == tuple(ot.shape), (tuple(od.shape), tuple(ot.shape))
        np.testing.assert_allclose(od.numpy(), ot.detach().numpy(), rtol=rtol, atol=atol)
    if grad:
        ws = [rng.standard_normal(tuple(o.shape)) for o in outs_d]
        pairs = [(od, ot, w) for od, ot, w in zip(outs_d, outs_t, ws) if ot.requires_grad]
        if pairs:
            sd = sum(((od * dl.tensor(w.astype(od.numpy().dtype))).sum() for od, _, w in pairs))
            st = sum(((ot * torch.tensor(w, dtype=ot.dtype)).sum() for _, ot, w in pairs))
            sd.backward()
            st.backward()
            for a, td, tt in zip(arrays, dl_in, t_in):
                if isinstance(a, np.ndarray) and a.dtype.kind == "f":
                    gt = tt.grad
                    gd = td.grad
                    if gt is None:
                        assert gd is None or np.all(gd.numpy() == 0)
                        continue
                    assert gd is not None, "dlcore gave no gradient where torch did"
                    np.testing.assert_allclose(gd.numpy(), gt.numpy(), rtol=rtol, atol=atol)
    return outs_d


def layer_forward_backward(ours, theirs, x, rng, rtol, atol, grad_rtol, grad_atol):
    """Runs dlcore layer `ours` and torch layer `theirs` on the float array x: compares the
    outputs (rtol, atol), backpropagates one random output gradient through both and compares
    the input gradients (grad_rtol, grad_atol); parameter gradients are left to the caller."""
    import torch
    xt, tx = dl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(xt), theirs(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(dl.tensor(gy))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=grad_rtol, atol=grad_atol)


def gradcheck(fn, arrays):
    """dl.autograd.gradcheck over float64 copies of `arrays` (floats require grad)."""
    ins = [dl.tensor(a.astype(np.float64), requires_grad=True)
           if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in arrays]
    assert dl.autograd.gradcheck(fn, tuple(ins))


def check_module(ours, theirs, arrays, rtol=1e-5, atol=1e-6, seed=0, train=True):
    """Load torch module `theirs`'s state into `ours`, run both on `arrays` (float32 inputs
    require grad), compare outputs, input gradients and parameter gradients."""
    import torch
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    ours.train(train)
    theirs.train(train)
    out = check(ours, theirs, arrays, rtol=rtol, atol=atol, seed=seed)
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        gt = tp[name].grad
        if gt is None:
            assert p.grad is None
            continue
        np.testing.assert_allclose(p.grad.numpy(), gt.numpy(), rtol=rtol, atol=atol,
                                   err_msg=name)
    for name, b in ours.named_buffers():
        np.testing.assert_allclose(b.numpy(), dict(theirs.named_buffers())[name].numpy(),
                                   rtol=rtol, atol=atol, err_msg=name)
    _ = torch
    return out
