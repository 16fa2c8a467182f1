"""nn.utils.weight_norm / remove_weight_norm: the older hook form of weight normalisation
(parameters `<name>_g` and `<name>_v`, the weight recomputed before each forward), kept
because many scripts and checkpoints use it."""
from ..parameter import Parameter
from ._weight_hooks import remove_weight_hook
from .parametrizations import norm_except_dim

__all__ = ["weight_norm", "remove_weight_norm", "WeightNorm"]


class WeightNorm:
    def __init__(self, name, dim):
        self.name, self.dim = name, -1 if dim is None else dim

    def compute_weight(self, module):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / norm_except_dim(v, 2, self.dim))

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    for hook in module.__dict__.get("_forward_pre_hooks", {}).values():
        if isinstance(hook, WeightNorm) and hook.name == name:
            raise RuntimeError("weight_norm: cannot register two weight_norm hooks on the same "
                               "parameter %s" % name)
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError("weight_norm: module %s has no parameter %r"
                         % (type(module).__name__, name))
    fn = WeightNorm(name, dim)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, 2, fn.dim)
                                                     .detach()._data.copy()))
    module.register_parameter(name + "_v", Parameter(weight._data))
    object.__setattr__(module, name, fn.compute_weight(module))
    handle = module.register_forward_pre_hook(fn)
    fn.handle = handle
    return module


def remove_weight_norm(module, name="weight"):
    return remove_weight_hook(module, name, WeightNorm, "remove_weight_norm", ("_g", "_v"), (),
                              lambda hook: hook.compute_weight(module))
