"""Removing one of the older hook forms of weight reparametrization (weight_norm,
spectral_norm): written once for both."""
from ..parameter import Parameter


def remove_weight_hook(module, name, hook_cls, fname, params, buffers, compute):
    """Finds module's forward pre-hook of hook_cls for parameter `name`, makes the weight it
    computes (compute(hook)) a plain Parameter `name` again, removes the hook, the parameters
    name + each of `params` and the buffers name + each of `buffers`, and returns module;
    raises ValueError (naming fname) when there is no such hook."""
    for hook in list(module.__dict__.get("_forward_pre_hooks", {}).values()):
        if isinstance(hook, hook_cls) and hook.name == name:
            weight = compute(hook).detach()
            hook.handle.remove()
            for suffix in params:
                del module._parameters[name + suffix]
            for suffix in buffers:
                del module._buffers[name + suffix]
            module.__dict__.pop(name, None)
            module.register_parameter(name, Parameter(weight._data.copy()))
            return module
    raise ValueError("%s: %s of %r not found in %s"
                     % (fname, fname[len("remove_"):], name, type(module).__name__))
