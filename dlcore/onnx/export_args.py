"""torch.onnx.export's calling conventions for dl.onnx.export: nested example inputs (an LSTM's
(x, (h, c))), a trailing kwargs dict, dynamic_axes keyed by input/output name, opset_version,
and the switches that change nothing here.  Switches dlcore cannot honour raise."""
import numpy as np

from ..tensor_base import TensorBase

# torch.onnx.export arguments that do not change dlcore's file (dlcore always folds constants,
# writes one file and exports in eval mode)
IGNORED = ("verbose", "dynamo", "do_constant_folding", "optimize", "report", "verify",
           "profile", "dump_exported_program", "artifacts_dir", "external_data",
           "operator_export_type", "autograd_inlining", "custom_opsets")


def check_torch_switches(kw):
    """Raise for torch.onnx.export switches dlcore cannot honour; drop the harmless ones."""
    for k in list(kw):
        if k in IGNORED:
            del kw[k]
    if not kw.pop("export_params", True):
        raise NotImplementedError("export: export_params=False (weights left out of the file) "
                                  "is not supported; dlcore always writes the weights")
    if kw.pop("keep_initializers_as_inputs", False):
        raise NotImplementedError("export: keep_initializers_as_inputs=True is not supported")
    training = kw.pop("training", None)
    if training is not None and getattr(training, "name", str(training)).upper() not in (
            "EVAL", "TRAININGMODE.EVAL", "0"):
        raise NotImplementedError("export: only training=TrainingMode.EVAL is supported "
                                  "(the model is exported in eval mode), got %r" % (training,))
    for k in ("dynamic_shapes", "custom_translation_table", "export_modules_as_functions"):
        if kw.pop(k, None):
            raise NotImplementedError("export: %s is not supported by dlcore's exporter" % k)
    if kw:
        raise TypeError("export() got unexpected keyword arguments %s" % sorted(kw))


def _leaf(x):
    return isinstance(x, (TensorBase, np.ndarray))


def flatten(args):
    """(flat tensors, rebuild) where rebuild(flat) gives back the nested structure."""
    flat = []

    def walk(x):
        if _leaf(x):
            flat.append(x)
            return None
        if isinstance(x, (tuple, list)):
            return (type(x), [walk(v) for v in x])
        if isinstance(x, dict):
            return (dict, [(k, walk(v)) for k, v in x.items()])
        raise TypeError("export: example inputs must be Tensors or arrays, possibly in "
                        "tuples, lists or dicts; got %s" % type(x).__name__)

    spec = walk(args)

    def rebuild(values):
        it = iter(values)

        def build(s):
            if s is None:
                return next(it)
            kind, items = s
            if kind is dict:
                return {k: build(v) for k, v in items}
            return kind(build(v) for v in items)
        return build(spec)
    return flat, rebuild


def split_args(args, kwargs):
    """torch's rule: a dict as the last positional argument holds keyword arguments."""
    if _leaf(args):
        args = (args,)
    args = tuple(args)
    if args and isinstance(args[-1], dict) and kwargs is None:
        args, kwargs = args[:-1], args[-1]
    return args, dict(kwargs or {})


def dynamic_from_names(dynamic_axes, input_names, output_names, n_inputs):
    """torch's {name: {axis: dim name} or [axes]} as trace's {input index: {axis: name}}.
    Entries for outputs are checked and then left to the trace (output dims follow inputs)."""
    if not (isinstance(dynamic_axes, dict) and dynamic_axes
            and all(isinstance(k, str) for k in dynamic_axes)):
        return dynamic_axes
    in_names = list(input_names) if input_names is not None else (
        ["input"] if n_inputs == 1 else ["input%d" % i for i in range(n_inputs)])
    out_names = list(output_names or ())
    out = {}
    for name, axes in dynamic_axes.items():
        if isinstance(axes, (list, tuple)):
            axes = {int(a): "%s_dynamic_axes_%d" % (name, int(a) + 1) for a in axes}
        if not isinstance(axes, dict):
            raise TypeError("export: dynamic_axes[%r] must be {axis: name} or a list of axes, "
                            "got %r" % (name, axes))
        if name in in_names:
            out[in_names.index(name)] = axes
        elif name not in out_names:
            raise ValueError("export: dynamic_axes names %r, which is neither an input name %s "
                             "nor an output name %s" % (name, in_names, out_names))
    return out if out else False
