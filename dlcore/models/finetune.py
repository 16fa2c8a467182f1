"""Fine-tuning helpers: freezing by name, batch norm kept in inference mode, optimizer parameter
groups with their own learning rates, and saving only what was trained.

    model = dl.models.efficientnet_lite0(pretrained=True)
    model.reset_classifier(10)                    # or: model.fc = nn.Linear(512, 10) (ResNet)
    freeze(model, except_prefixes=["_fc", "_blocks.15"])
    freeze_batchnorm(model)                       # running stats frozen, even after model.train()
    opt = dl.optim.Adam(param_groups(model, {"_fc": 1e-2, "_blocks.15": 1e-4}))
    ...
    dl.save(trainable_state_dict(model), "head.safetensors")   # a few hundred KB, not 18 MB
    model.load_state_dict(dl.load("head.safetensors"), strict=False)
"""
from .. import nn

__all__ = ["freeze", "unfreeze", "freeze_batchnorm", "unfreeze_batchnorm", "param_groups",
           "trainable_parameters", "trainable_state_dict", "state_dict_subset"]


def _matches(name, prefixes):
    return any(name == p or name.startswith(p + ".") or p == "" for p in prefixes)


def freeze(model, prefixes=None, except_prefixes=()):
    """requires_grad=False on the parameters under `prefixes` (all when None), except those
    under `except_prefixes` (module paths such as "fc" or "layer4.1").  Returns the names of
    the parameters that stay trainable."""
    names = [n for n, _ in model.named_parameters()]
    for pre in list(prefixes or ()) + list(except_prefixes):
        if not any(_matches(n, [pre]) for n in names):
            raise KeyError("freeze: no parameter under %r (first names: %s)"
                           % (pre, ", ".join(names[:5])))
    for n, p in model.named_parameters():
        hit = prefixes is None or _matches(n, prefixes)
        if hit and not _matches(n, except_prefixes):
            p.requires_grad_(False)
    return [n for n, p in model.named_parameters() if p.requires_grad]


def unfreeze(model, prefixes=None):
    """requires_grad=True on the parameters under `prefixes` (all when None)."""
    for n, p in model.named_parameters():
        if prefixes is None or _matches(n, prefixes):
            p.requires_grad_(True)
    return [n for n, p in model.named_parameters() if p.requires_grad]


def trainable_parameters(model):
    return [p for p in model.parameters() if p.requires_grad]


_FROZEN_CLASSES = {}


def _frozen_class(cls):
    """A subclass whose `training` is always False: model.train() (which sets `training` on
    every module) then leaves these layers in inference mode."""
    if cls not in _FROZEN_CLASSES:
        _FROZEN_CLASSES[cls] = type("Frozen" + cls.__name__, (cls,), {
            "training": property(lambda self: False, lambda self, value: None),
            "_dl_frozen_from": cls})
    return _FROZEN_CLASSES[cls]


def freeze_batchnorm(model, prefixes=None, freeze_affine=True):
    """Batch norm layers (under `prefixes`, all when None) normalise with their running
    statistics and stop updating them, whatever model.train()/eval() says afterwards — the
    usual setting when fine-tuning on small batches.  freeze_affine also stops training their
    weight and bias.  Returns the number of layers frozen."""
    n = 0
    for name, m in model.named_modules():
        if not isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            continue
        if prefixes is not None and not _matches(name, prefixes):
            continue
        if not hasattr(type(m), "_dl_frozen_from"):
            m.__dict__.pop("training", None)
            m.__class__ = _frozen_class(type(m))
        if freeze_affine:
            for p in m.parameters():
                p.requires_grad_(False)
        n += 1
    return n


def unfreeze_batchnorm(model, train=True):
    """Undo freeze_batchnorm (batch statistics again in training mode; affine params trainable)."""
    for m in model.modules():
        base = getattr(type(m), "_dl_frozen_from", None)
        if base is not None:
            m.__class__ = base
            object.__setattr__(m, "training", train)
            for p in m.parameters():
                p.requires_grad_(True)
    return model


def param_groups(model, lrs, default_lr=None, **options):
    """Optimizer parameter groups by module prefix: lrs = {"fc": 1e-2, "layer4": 1e-3}.  Each
    trainable parameter goes to the group of its longest matching prefix; the rest form a
    group at `default_lr` (left out when default_lr is None).  Frozen parameters are skipped.
    Extra keyword options (weight_decay=...) are copied into every group."""
    order = sorted(lrs, key=len, reverse=True)
    groups = {pre: [] for pre in lrs}
    rest = []
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        for pre in order:
            if _matches(n, [pre]):
                groups[pre].append(p)
                break
        else:
            rest.append(p)
    out = []
    for pre in lrs:
        if not groups[pre]:
            raise KeyError("param_groups: no trainable parameter under %r" % pre)
        out.append(dict(options, params=groups[pre], lr=float(lrs[pre])))
    if default_lr is not None and rest:
        out.append(dict(options, params=rest, lr=float(default_lr)))
    return out


def state_dict_subset(model, prefixes):
    """The entries of model.state_dict() under the given module prefixes."""
    sd = model.state_dict()
    out = type(sd)((k, v) for k, v in sd.items() if _matches(k, prefixes))
    if not out:
        raise KeyError("state_dict_subset: nothing under %s" % (list(prefixes),))
    return out


def trainable_state_dict(model, include_buffers=True):
    """Only what fine-tuning changed: the trainable parameters, plus (include_buffers) the
    buffers of modules that own a trainable parameter or whose batch norm is still in training
    mode (their running statistics moved).  Load it back over the pretrained model with
    model.load_state_dict(sd, strict=False)."""
    keep = set()
    for mname, m in model.named_modules():
        pre = mname + "." if mname else ""
        own = [k for k, p in m._parameters.items() if p is not None and p.requires_grad]
        keep.update(pre + k for k in own)
        if include_buffers:
            moving = (isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))
                      and not hasattr(type(m), "_dl_frozen_from"))
            if own or moving:
                keep.update(pre + k for k, b in m._buffers.items()
                            if b is not None and k not in m._non_persistent)
    sd = model.state_dict()
    return type(sd)((k, v) for k, v in sd.items() if k in keep)
