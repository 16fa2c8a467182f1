"""torch names added for ordinary scripts, each against torch as the oracle: the in-place Tensor
methods (exp_, sqrt_, pow_, eq_, tril_, cumsum_, ...) -- values written into the tensor itself,
gradients through them on the graph, torch's refusals -- and the top-level forms torch.conv2d,
torch.max_pool2d, torch.dropout, torch.batch_norm, torch.embedding, torch.kl_div, torch.exp_...
with torch's own signatures."""
import numpy as np
import pytest

import dlcore as dl

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(3)
A = RNG.uniform(0.1, 0.9, (3, 4))     # inside every domain used below (acos, atanh, log...)
B = RNG.uniform(0.2, 0.8, (3, 4))
C = RNG.uniform(0.2, 0.8, (3, 4))
SQ = RNG.uniform(0.1, 0.9, (4, 4))


def _lib_args(lib, args):
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            out.append(lib.tensor(a) if a.dtype.kind in "iub" else lib.tensor(a, dtype=lib.float64))
        else:
            out.append(a)
    return out


# name_ -> (input array, extra args)
CASES = {n: (A, ()) for n in (
    "abs absolute acos arccos arcsin arcsinh arctan arctanh asin asinh atan atanh ceil floor "
    "round trunc cos cosh sin sinh tan tanh exp exp2 expm1 log log10 log1p log2 neg negative "
    "reciprocal rsqrt sqrt square sigmoid sign nan_to_num logical_not").split()}
CASES.update({
    "acosh": (A + 1.5, ()), "arccosh": (A + 1.5, ()),
    "atan2": (A, (B,)), "arctan2": (A, (B,)), "hypot": (A, (B,)),
    "clamp_min": (A, (0.5,)), "clamp_max": (A, (0.5,)),
    "lerp": (A, (B, 0.3)), "addcmul": (A, (B, C)), "addcdiv": (A, (B, C)),
    "pow": (A, (2.5,)), "fmod": (A, (0.3,)), "remainder": (A - 0.5, (0.3,)),
    "floor_divide": (A * 5, (0.7,)), "true_divide": (A, (B,)), "multiply": (A, (B,)),
    "divide": (A, (B,)), "subtract": (A, (B,)),
    "eq": (A, (A * (B > 0.5),)), "ne": (A, (B,)), "lt": (A, (B,)), "le": (A, (B,)),
    "gt": (A, (B,)), "ge": (A, (B,)), "greater": (A, (B,)), "greater_equal": (A, (B,)),
    "less": (A, (B,)), "less_equal": (A, (B,)), "not_equal": (A, (B,)),
    "logical_and": (A - 0.5, (B - 0.5,)), "logical_or": (A * (A > 0.5), (B * (B > 0.5),)),
    "logical_xor": (A - 0.5, (B - 0.5,)),
    "cumsum": (A, (1,)), "cumprod": (A, (0,)), "tril": (SQ, (-1,)), "triu": (SQ, (1,)),
    "addmm": (A, (B, SQ)),
    "scatter_add": (A, (1, np.array([[0, 1, 1, 3]] * 3), B)),
})
# the subset whose gradient torch defines through the in-place op
DIFFERENTIABLE = set(CASES) - {"ceil", "floor", "round", "trunc", "sign", "logical_not", "eq",
                               "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less",
                               "less_equal", "not_equal", "logical_and", "logical_or",
                               "logical_xor", "floor_divide", "nan_to_num",
                               "acosh", "arccosh", "asinh", "arcsinh", "atanh", "arctanh"}
# (torch defines no derivative for acosh_, asinh_, atanh_)


@pytest.mark.parametrize("name", sorted(CASES))
def test_inplace_method_writes_into_the_tensor_as_torch(name):
    x0, args = CASES[name]
    results = []
    for lib in (dl, torch):
        x = lib.tensor(x0, dtype=lib.float64)
        before = x
        out = getattr(x, name + "_")(*_lib_args(lib, args))
        assert out is before
        results.append(x.numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_inplace_method_on_the_graph_gives_torchs_gradient(name):
    x0, args = CASES[name]
    grads = []
    for lib in (dl, torch):
        leaf = lib.tensor(x0, dtype=lib.float64, requires_grad=True)
        extra = _lib_args(lib, args)
        y = leaf * 1.0
        getattr(y, name + "_")(*extra)
        (y * lib.tensor(B[:y.shape[0], :y.shape[1]] if y.shape == B.shape else SQ,
                        dtype=lib.float64)).sum().backward()
        grads.append(leaf.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10, atol=1e-12, err_msg=name)


def test_inplace_method_refuses_what_torch_refuses():
    for lib, err in ((dl, RuntimeError), (torch, RuntimeError)):
        i = lib.tensor([1, 4])
        with pytest.raises(err):
            i.sqrt_()                       # float result into an int64 tensor
        with pytest.raises(err):
            lib.ones(1, 3).add_(lib.ones(2, 3)) if lib is torch else \
                lib.ones(1, 3).addcmul_(lib.ones(2, 3), lib.ones(2, 3))   # would grow the tensor
        leaf = lib.ones(2, requires_grad=True)
        with pytest.raises(err):
            leaf.exp_()                     # a leaf that requires grad
    # a comparison writes 0/1 in the tensor's own dtype, as torch's
    d, t = dl.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])
    d.lt_(1.5)
    t.lt_(1.5)
    assert d.dtype == dl.float32 and d.tolist() == t.tolist()


def test_inplace_on_a_saved_tensor_is_caught_by_the_version_counter():
    x = dl.tensor([0.5, 1.5], requires_grad=True)
    y = x * 2
    z = y.exp()          # saves its output
    z.sqrt_()            # changes the saved output in place
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (y * z).sum().backward()


def _same(ours, theirs, what):
    if isinstance(theirs, (tuple, list)):
        for o, t in zip(ours, theirs):
            _same(o, t, what)
        return
    assert tuple(ours.shape) == tuple(theirs.shape), what
    # torch.testing's float32 tolerances
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1.3e-6,
                               atol=1e-5, err_msg=what)


X4 = RNG.standard_normal((2, 4, 6, 6)).astype(np.float32)
X3 = RNG.standard_normal((2, 4, 9)).astype(np.float32)
W2 = RNG.standard_normal((3, 4, 3, 3)).astype(np.float32)
W1 = RNG.standard_normal((3, 4, 3)).astype(np.float32)
V4 = RNG.uniform(0.5, 1.5, 4).astype(np.float32)
M4 = RNG.standard_normal(4).astype(np.float32)
P = RNG.standard_normal((5, 3)).astype(np.float32)
Q = RNG.standard_normal((5, 3)).astype(np.float32)
T = np.sign(RNG.standard_normal(5)).astype(np.float32)
PROB = RNG.uniform(0.1, 0.9, (5, 3)).astype(np.float32)
LOGP = np.log(PROB / PROB.sum(1, keepdims=True)).astype(np.float32)
IDX = np.array([[0, 2], [4, 1]])
EMB = RNG.standard_normal((6, 3)).astype(np.float32)
WB = RNG.standard_normal((2, 3, 3)).astype(np.float32)

TOP_LEVEL = {
    "conv1d": lambda m, t: m.conv1d(t(X3), t(W1), None, 1, 1),
    "conv2d": lambda m, t: m.conv2d(t(X4), t(W2), t(M4[:3]), 2, 1),
    "conv_transpose2d": lambda m, t: m.conv_transpose2d(t(X4), t(W2.transpose(1, 0, 2, 3).copy()),
                                                        None, 2),
    "max_pool1d": lambda m, t: m.max_pool1d(t(X3), 3, 2),
    "max_pool2d": lambda m, t: m.max_pool2d(t(X4), 2),
    "max_pool2d_pad": lambda m, t: m.max_pool2d(t(X4), 3, 2, 1, 1, True),
    "max_pool3d": lambda m, t: m.max_pool3d(t(X4[None]), 2),
    "avg_pool1d": lambda m, t: m.avg_pool1d(t(X3), 3, 2, 1),
    "adaptive_avg_pool1d": lambda m, t: m.adaptive_avg_pool1d(t(X3), 4),
    "adaptive_max_pool1d": lambda m, t: m.adaptive_max_pool1d(t(X3), 4),
    "batch_norm": lambda m, t: m.batch_norm(t(X4), t(V4), t(M4), t(M4), t(V4), False, 0.1,
                                            1e-5, False),
    "batch_norm_train": lambda m, t: m.batch_norm(t(X4), t(V4), t(M4), None, None, True, 0.1,
                                                  1e-5, False),
    "instance_norm": lambda m, t: m.instance_norm(t(X4), t(V4), t(M4), None, None, True, 0.1,
                                                  1e-5, False),
    "layer_norm": lambda m, t: m.layer_norm(t(X4), (6, 6), None, None, 1e-5, False),
    "group_norm": lambda m, t: m.group_norm(t(X4), 2, t(V4), t(M4), 1e-5, False),
    "embedding": lambda m, t: m.embedding(t(EMB), m.tensor(IDX)),
    "embedding_pad": lambda m, t: m.embedding(t(EMB), m.tensor(IDX), 2),
    "dropout_eval": lambda m, t: m.dropout(t(X3), 0.5, False),
    "dropout_p0": lambda m, t: m.dropout(t(X3), 0.0, True),
    "pixel_shuffle": lambda m, t: m.pixel_shuffle(t(X4), 2),
    "pixel_unshuffle": lambda m, t: m.pixel_unshuffle(t(X4), 2),
    "channel_shuffle": lambda m, t: m.channel_shuffle(t(X4), 2),
    "prelu": lambda m, t: m.prelu(t(X4), t(V4)),
    "selu": lambda m, t: m.selu(t(X3)),
    "celu": lambda m, t: m.celu(t(X3), 0.7),
    "rrelu_eval": lambda m, t: m.rrelu(t(X3), 0.1, 0.3, False),
    "hardshrink": lambda m, t: m.hardshrink(t(X3), 0.3),
    "threshold": lambda m, t: m.threshold(t(X3), 0.1, 20.0),
    "bilinear": lambda m, t: m.bilinear(t(P), t(Q), t(WB)),
    "cosine_similarity": lambda m, t: m.cosine_similarity(t(P), t(Q)),
    "pairwise_distance": lambda m, t: m.pairwise_distance(t(P), t(Q), 1.5),
    "kl_div": lambda m, t: m.kl_div(t(LOGP), t(PROB)),
    "kl_div_sum_logtarget": lambda m, t: m.kl_div(t(LOGP), t(LOGP), 2, log_target=True),
    "bce_logits": lambda m, t: m.binary_cross_entropy_with_logits(t(P), t(PROB), None, None, 0),
    "cosine_embedding_loss": lambda m, t: m.cosine_embedding_loss(t(P), t(Q), t(T), 0.1, 2),
    "hinge_embedding_loss": lambda m, t: m.hinge_embedding_loss(t(P[:, 0]), t(T), 0.5),
    "margin_ranking_loss": lambda m, t: m.margin_ranking_loss(t(P[:, 0]), t(Q[:, 0]), t(T), 0.2,
                                                              0),
    "poisson_nll_loss": lambda m, t: m.poisson_nll_loss(t(P), t(PROB), True, False, 1e-8, 1),
    "triplet_margin_loss": lambda m, t: m.triplet_margin_loss(t(P), t(Q), t(PROB), 1.0, 2.0,
                                                              1e-6, True, 1),
    "rms_norm": lambda m, t: m.rms_norm(t(X3), (9,), None, 1e-6),
    "exp_": lambda m, t: m.exp_(t(X3)),
    "relu_": lambda m, t: m.relu_(t(X3)),
    "sigmoid_": lambda m, t: m.sigmoid_(t(X3)),
    "clamp_": lambda m, t: m.clamp_(t(X3), -0.5, 0.5),
    "zero_": lambda m, t: m.zero_(t(X3)),
    "fill_": lambda m, t: m.fill_(t(X3), 2.5),
    "clone": lambda m, t: m.clone(t(X3)),
    "detach": lambda m, t: m.detach(t(X3)),
    "swapaxes": lambda m, t: m.swapaxes(t(X3), 0, 2),
    "unflatten": lambda m, t: m.unflatten(t(X3), 2, (3, 3)),
    "trunc": lambda m, t: m.trunc(t(X3 * 3)),
    "scatter_add": lambda m, t: m.scatter_add(t(P), 0, m.tensor(np.array([[0, 1, 2]] * 5)),
                                              t(Q)),
}


@pytest.mark.parametrize("name", sorted(TOP_LEVEL))
def test_top_level_form_matches_torch(name):
    def make(lib):
        return lambda a: lib.tensor(a)
    theirs = TOP_LEVEL[name](torch, make(torch))
    ours = TOP_LEVEL[name](dl, make(dl))
    _same(ours, theirs, name)


def test_top_level_forms_keep_the_graph():
    # torch.conv2d / torch.batch_norm / torch.embedding differentiate like the F ops
    grads = []
    for lib in (dl, torch):
        x = lib.tensor(X4, requires_grad=True)
        w = lib.tensor(EMB, requires_grad=True)
        y = lib.batch_norm(lib.conv2d(x, lib.tensor(W2), None, 1, 1), None, None, None, None,
                           True, 0.1, 1e-5, False)
        e = lib.embedding(w, lib.tensor(IDX), 1)
        (y.square().sum() + (e * 3).sum()).backward()
        grads.append((x.grad.numpy(), w.grad.numpy()))
    for o, t in zip(*grads):
        np.testing.assert_allclose(o, t, rtol=1e-4, atol=1e-5)


def test_loss_reduction_integers_are_checked():
    with pytest.raises(ValueError, match="reduction"):
        dl.kl_div(dl.zeros(3), dl.zeros(3), 3)


def test_factories_take_size_keyword(torch):
    # pytorch/examples' GAT writes torch.empty(size=(in, out))
    for name in ("zeros", "ones", "empty", "rand", "randn"):
        d = getattr(dl, name)(size=(2, 3))
        t = getattr(torch, name)(size=(2, 3))
        assert tuple(d.shape) == tuple(t.shape) and str(d.dtype).split(".")[-1] == \
            str(t.dtype).split(".")[-1]
        assert tuple(getattr(dl, name)(size=[4]).shape) == (4,)
        with pytest.raises(TypeError, match="multiple values for argument 'size'"):
            getattr(dl, name)(2, size=(3,))
        with pytest.raises(TypeError):
            getattr(torch, name)(2, size=(3,))
