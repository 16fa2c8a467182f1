"""torch's top-level forms of neural-network ops (torch.conv2d, torch.max_pool2d, torch.dropout,
torch.batch_norm, torch.embedding, torch.kl_div, ...) and of the in-place Tensor methods
(torch.exp_(x), torch.relu_(x), ...), each running dlcore.nn.functional's op or the Tensor's
method.

The top-level forms keep torch's own signatures where they differ from nn.functional's:
torch.batch_norm and torch.instance_norm take weight and bias before the running statistics,
torch.embedding takes the weight first (padding_idx -1 meaning none), torch.dropout's `train` is
positional, and the losses take `reduction` as torch's enum integer (0 none, 1 mean, 2 sum),
by default 0 (none) as torch's top-level forms do (nn.functional's default is 'mean').
"""
from .functions import _method_as_function
from .nn import functional as F

__all__ = []

_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(r, fname):
    if isinstance(r, bool) or r not in _REDUCTIONS:
        raise ValueError("%s: reduction must be 0 (none), 1 (mean) or 2 (sum), got %r"
                         % (fname, r))
    return _REDUCTIONS[r]


def _export(fn):
    __all__.append(fn.__name__)
    return fn


# ---- the same signature as nn.functional's ------------------------------------------------
for _n in ("conv1d conv2d conv3d conv_transpose2d avg_pool1d adaptive_avg_pool1d bilinear "
           "cosine_similarity pairwise_distance pixel_shuffle pixel_unshuffle channel_shuffle "
           "prelu celu hardshrink threshold threshold_ rms_norm").split():
    globals()[_n] = getattr(F, _n)
    __all__.append(_n)


@_export
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    return F.max_pool1d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


@_export
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    return F.max_pool2d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


@_export
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    return F.max_pool3d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


@_export
def adaptive_max_pool1d(input, output_size):
    """(values, indices), as torch's top-level form returns both."""
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


@_export
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


@_export
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    return F.group_norm(input, num_groups, weight, bias, eps)


@_export
def selu(input):
    return F.selu(input)


@_export
def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    if generator is not None:
        raise NotImplementedError("rrelu: a generator argument is not supported; seed with "
                                  "manual_seed")
    return F.rrelu(input, lower, upper, training)


@_export
def dropout(input, p, train):
    return F.dropout(input, p, training=train)


@_export
def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
               cudnn_enabled=True):
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


@_export
def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum,
                  eps, cudnn_enabled=True):
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                           momentum, eps)


@_export
def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    return F.embedding(indices, weight, None if padding_idx == -1 else padding_idx,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


# ---- losses: reduction as torch's enum integer ---------------------------------------------
@_export
def kl_div(input, target, reduction=0, *, log_target=False):
    return F.kl_div(input, target, reduction=_reduction(reduction, "kl_div"),
                    log_target=log_target)


@_export
def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=0):
    return F.binary_cross_entropy_with_logits(
        input, target, weight, reduction=_reduction(reduction, "binary_cross_entropy_with_logits"),
        pos_weight=pos_weight)


@_export
def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=0):
    return F.cosine_embedding_loss(input1, input2, target, margin,
                                   reduction=_reduction(reduction, "cosine_embedding_loss"))


@_export
def hinge_embedding_loss(input, target, margin=1.0, reduction=0):
    return F.hinge_embedding_loss(input, target, margin,
                                  reduction=_reduction(reduction, "hinge_embedding_loss"))


@_export
def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=0):
    return F.margin_ranking_loss(input1, input2, target, margin,
                                 reduction=_reduction(reduction, "margin_ranking_loss"))


@_export
def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return F.poisson_nll_loss(input, target, log_input=log_input, full=full, eps=eps,
                              reduction=_reduction(reduction, "poisson_nll_loss"))


@_export
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        reduction=0):
    return F.triplet_margin_loss(anchor, positive, negative, margin=margin, p=p, eps=eps,
                                 swap=swap, reduction=_reduction(reduction,
                                                                 "triplet_margin_loss"))


# ---- torch.X(t, ...) as t.X(...): in-place methods and a few more ------------------------
for _n in ("abs_ acos_ acosh_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ asin_ asinh_ "
           "atan_ atanh_ ceil_ clamp_ clamp_max_ clamp_min_ clip_ cos_ cosh_ detach_ exp2_ exp_ "
           "expm1_ fill_ floor_ index_put_ log10_ log1p_ log2_ log_ nan_to_num_ neg_ negative_ "
           "reciprocal_ relu_ round_ rsqrt_ sigmoid_ sin_ sinh_ sqrt_ square_ tan_ tanh_ trunc_ "
           "zero_ clone detach scatter_add swapaxes trunc unflatten erf_ erfc_ i0_ addmv_ xlogy_ "
           "sinc_ deg2rad_ rad2deg_ fix_ frac_ ldexp_ logit_ gcd_ lcm_").split():
    globals()[_n] = _method_as_function(_n, "torch.%s(t, ...) is t.%s(...)")
    __all__.append(_n)
