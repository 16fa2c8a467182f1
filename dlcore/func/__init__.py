"""dl.func: torch.func's names (functional_call, grad, grad_and_value, vjp, jvp, jacrev, jacfwd,
hessian, vmap, stack_module_state) over dlcore's autograd."""
from ..ops.join import stack as _stack
from .functional_call import functional_call
from .transforms import grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian, vmap

__all__ = ["functional_call", "grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd",
           "hessian", "vmap", "stack_module_state"]


def stack_module_state(models):
    """(params, buffers): each name's tensors from the (same-architecture) models stacked on a
    new leading dim; the stacked parameters are new leaves that require grad."""
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if any(m.training != models[0].training for m in models):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/"
                           "eval mode.")
    kinds = {type(m) for m in models}
    if len(kinds) != 1:
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    params = {k: _stack([dict(m.named_parameters())[k].detach() for m in models], 0)
              .requires_grad_(True) for k, _ in models[0].named_parameters()}
    buffers = {k: _stack([dict(m.named_buffers())[k] for m in models], 0)
               for k, _ in models[0].named_buffers()}
    return params, buffers
