"""Static post-training quantization in torch's eager-mode shape:

    model.eval()
    model = dl.quantization.fuse_modules(model, [["conv", "bn", "relu"]])
    model.qconfig = dl.quantization.get_default_qconfig("x86")
    prepared = dl.quantization.prepare(model)      # observers on every quantizable output
    for x in calibration_batches: prepared(x)       # they record ranges
    qmodel = dl.quantization.convert(prepared)      # int8 layers with those ranges

The model marks where quantization starts and ends with QuantStub / DeQuantStub (or is wrapped
in QuantWrapper) and writes residual adds with nn.quantized.FloatFunctional; between them
every layer must have a quantized version (Conv2d, Linear, their fused relu forms, ReLU,
ReLU6, MaxPool2d, AdaptiveAvgPool2d, Flatten, Dropout).  quantize_static in graph.py does all
of this from a model's traced graph instead, with no changes to the model.
"""
import copy

from .. import nn
from ..nn import quantized as nnq
from .fuse import ConvReLU2d, LinearReLU
from .observer import PerChannelMinMaxObserver

__all__ = ["QuantStub", "DeQuantStub", "QuantWrapper", "prepare", "convert", "quantize"]


class _Stub(nn.Module):
    """An identity until convert replaces it; optionally carries its own qconfig."""

    def __init__(self, qconfig=None):
        super().__init__()
        if qconfig is not None:
            self.qconfig = qconfig

    def forward(self, x):
        return x


class QuantStub(_Stub):
    """Marks where float input enters the quantized part (an identity until convert)."""


class DeQuantStub(_Stub):
    """Marks where the quantized part hands back float (an identity until convert)."""


class QuantWrapper(nn.Module):
    """quant -> module -> dequant."""

    def __init__(self, module):
        super().__init__()
        qconfig = getattr(module, "qconfig", None)
        self.quant = QuantStub(qconfig)
        self.dequant = DeQuantStub(qconfig)
        self.module = module

    def forward(self, x):
        return self.dequant(self.module(self.quant(x)))


# layers whose output gets an activation observer
_OBSERVED = (QuantStub, nn.Conv2d, nn.Linear, ConvReLU2d, LinearReLU, nn.ReLU, nn.ReLU6)


def _observe_output(mod, inputs, output):
    return mod.activation_post_process(output)


def _propagate(mod, inherited):
    qc = mod.__dict__.get("qconfig", inherited)
    mod.__dict__["qconfig"] = qc
    for child in mod._modules.values():
        if child is not None:
            _propagate(child, qc)


def _check_weight_observer(qc):
    # the int8 kernels take symmetric per-output-channel weights (no weight zero point)
    cls = getattr(qc.weight, "observer_class", qc.weight)
    if not (isinstance(cls, type) and issubclass(cls, PerChannelMinMaxObserver)):
        raise ValueError("prepare: qconfig.weight must be PerChannelMinMaxObserver (dlcore's "
                         "int8 layers keep weights symmetric per output channel), got %r"
                         % (qc.weight,))


def prepare(model, inplace=False):
    """A copy of `model` (eval mode, fused) with an observer on the output of every layer whose
    qconfig is set (model.qconfig applies to all submodules that set none)."""
    if not isinstance(model, nn.Module):
        raise TypeError("prepare: model must be a dl.nn.Module, got %s" % type(model).__name__)
    if not inplace:
        model = copy.deepcopy(model)
    _propagate(model, None)
    for qc in {id(m.__dict__.get("qconfig")): m.__dict__.get("qconfig")
               for m in model.modules()}.values():
        if qc is not None:
            _check_weight_observer(qc)
    n = 0
    for mod in model.modules():
        qc = mod.__dict__.get("qconfig")
        if qc is None:
            continue
        if isinstance(mod, nnq.FloatFunctional):
            mod.activation_post_process = qc.activation()
            n += 1
        elif isinstance(mod, _OBSERVED) and not _inside_fused(model, mod):
            mod.activation_post_process = qc.activation()
            mod.register_forward_hook(_observe_output)
            n += 1
    if n == 0:
        raise ValueError("prepare: no layer has a qconfig; set model.qconfig = "
                         "dl.quantization.get_default_qconfig() first")
    return model


def _inside_fused(model, mod):
    for m in model.modules():
        if isinstance(m, (ConvReLU2d, LinearReLU)) and any(c is mod for c in m._modules.values()):
            return True
    return False


def _qparams(mod, what):
    obs = getattr(mod, "activation_post_process", None)
    if obs is None:
        raise RuntimeError("convert: %s (%s) has no observer; prepare the model and run "
                           "calibration batches through it first" % (what, type(mod).__name__))
    return obs.calculate_qparams()


def _convert_one(mod, name):
    if isinstance(mod, QuantStub):
        return nnq.Quantize(*_qparams(mod, name))
    if isinstance(mod, DeQuantStub):
        return nnq.DeQuantize()
    if isinstance(mod, ConvReLU2d):
        return nnq.ConvReLU2d.from_float(mod[0], *_qparams(mod, name))
    if isinstance(mod, LinearReLU):
        return nnq.LinearReLU.from_float(mod[0], *_qparams(mod, name))
    if type(mod) is nn.Conv2d:
        return nnq.Conv2d.from_float(mod, *_qparams(mod, name))
    if type(mod) is nn.Linear:
        return nnq.Linear.from_float(mod, *_qparams(mod, name))
    if isinstance(mod, nnq.FloatFunctional):
        return nnq.QFunctional(*_qparams(mod, name))
    if type(mod) is nn.ReLU:
        return nnq.ReLU()
    if type(mod) is nn.ReLU6:
        return nnq.ReLU6()
    if type(mod) is nn.MaxPool2d:
        return nnq.MaxPool2d.from_float(mod)
    if type(mod) is nn.AdaptiveAvgPool2d:
        return nnq.AdaptiveAvgPool2d(mod.output_size)
    if type(mod) is nn.Flatten:
        return nnq.Flatten(mod.start_dim, mod.end_dim)
    if isinstance(mod, (nn.Dropout, nn.Dropout2d)):
        return nn.Identity()
    if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
        raise ValueError("convert: %s (%s) is not fused into the layer before it; call "
                         "dl.quantization.fuse_modules first" % (name, type(mod).__name__))
    return None


def convert(model, inplace=False):
    """The prepared and calibrated `model` with each observed layer replaced by its quantized
    version (dl.nn.quantized) and observers removed."""
    if not isinstance(model, nn.Module):
        raise TypeError("convert: model must be a dl.nn.Module, got %s" % type(model).__name__)
    if not inplace:
        model = copy.deepcopy(model)

    def walk(mod, path):
        for name, child in list(mod._modules.items()):
            if child is None or name == "activation_post_process":
                continue
            cpath = path + "." + name if path else name
            if child.__dict__.get("qconfig") is not None:
                new = _convert_one(child, cpath)
                if new is not None:
                    obs = getattr(child, "activation_post_process", None)
                    if isinstance(new, (nnq.Quantize, nnq.Conv2d, nnq.Linear, nnq.QFunctional)):
                        # the output scale's code range travels to the layers it feeds
                        new.reduce_range = bool(getattr(obs, "reduce_range", False))
                    new.train(False)
                    mod._modules[name] = new
                    continue
            walk(child, cpath)

    walk(model, "")
    for m in model.modules():
        m._modules.pop("activation_post_process", None)
        m.__dict__.pop("_forward_hooks", None)
    model.train(False)
    return model


def quantize(model, run_fn, run_args, inplace=False):
    """prepare, run_fn(prepared, *run_args) to calibrate, convert (torch's quantize)."""
    prepared = prepare(model, inplace=inplace)
    run_fn(prepared, *run_args)
    return convert(prepared, inplace=True)
