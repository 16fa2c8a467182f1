"""Per-param-group arguments of the schedules: one value per group, and the momentum (or
Adam's beta1) bounds the cycling schedules (OneCycleLR, CyclicLR) move against lr."""

__all__ = ["cycle_momentum_start"]


def _per_group(name, optimizer, value):
    """value for each param group: a list/tuple must have one entry per group."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError("%s must have one value per param group (%d), got %d"
                             % (name, len(optimizer.param_groups), len(value)))
        return list(value)
    return [value] * len(optimizer.param_groups)


def cycle_momentum_start(name, optimizer, base_momentum, max_momentum, last_epoch):
    """The schedules that cycle momentum (or Adam's beta1) against lr: checks the optimizer
    has one, and on a fresh start sets each group's to its max and records both bounds in the
    group.  Returns (use_beta1, bases, maxs), one bound per group."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError("%s: cycle_momentum needs an optimizer with a momentum or betas "
                         "option (set cycle_momentum=False)" % name)
    use_beta1 = "betas" in optimizer.defaults
    maxs = _per_group(name + ": max_momentum", optimizer, max_momentum)
    bases = _per_group(name + ": base_momentum", optimizer, base_momentum)
    if last_epoch == -1:
        for mx, bs, group in zip(maxs, bases, optimizer.param_groups):
            if use_beta1:
                group["betas"] = (mx, *group["betas"][1:])
            else:
                group["momentum"] = mx
            group["max_momentum"], group["base_momentum"] = mx, bs
    return use_beta1, bases, maxs
