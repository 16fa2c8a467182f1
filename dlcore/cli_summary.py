"""`dlcore summary MODEL`: what a model holds, without writing Python.

MODEL is one of
  - a safetensors file (what dl.save(model.state_dict(), path) writes, or any .safetensors
    state_dict): its parameters per name prefix, from the file's header alone (no tensor data
    is read, so a large file is quick), grouped at --depth dotted levels;
  - an architecture in dl.models that builds with no arguments (resnet18, LeNet5, ...; `dlcore
    summary --list` names them): its layer table (Module.summary), with output shapes and MACs
    when --input-shape is given, and with the weights of --weights FILE loaded when given.
"""
import argparse
import inspect
import os
import sys
from collections import OrderedDict

__all__ = ["architectures", "cmd_summary", "add_parser", "state_dict_summary"]


def architectures():
    """Names in dl.models that build a Module with no arguments."""
    from . import models
    from .nn import Module
    names = []
    for n in sorted(dir(models)):
        obj = getattr(models, n)
        if n.startswith("_") or not callable(obj):
            continue
        if inspect.isclass(obj):
            if not issubclass(obj, Module):
                continue
        elif not inspect.isfunction(obj):
            continue
        try:
            sig = inspect.signature(obj)
        except (TypeError, ValueError):
            continue
        required = [p for p in sig.parameters.values() if p.default is p.empty
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if not required:
            names.append(n)
    # functions without required arguments that are not model builders
    return [n for n in names if n not in ("fit_gan", "fit_autoencoder")]


def state_dict_summary(path, depth=1):
    """Text: a safetensors file's tensors grouped by their first `depth` name parts."""
    from .weights.safetensors_file import read_header
    header, _, _ = read_header(path)
    groups = OrderedDict()
    total = nbytes = 0
    dtypes = set()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        shape = info["shape"]
        n = 1
        for d in shape:
            n *= int(d)
        start, end = info["data_offsets"]
        prefix = ".".join(name.split(".")[:depth]) if "." in name else name
        g = groups.setdefault(prefix, [0, 0])
        g[0] += 1
        g[1] += n
        total += n
        nbytes += end - start
        dtypes.add(info["dtype"])
    w = max([len("prefix")] + [len(p) for p in groups])
    lines = ["%s (safetensors state_dict)" % os.path.basename(path),
             "%-*s  %8s  %14s" % (w, "prefix", "tensors", "parameters"),
             "-" * (w + 26)]
    for p, (k, n) in groups.items():
        lines.append("%-*s  %8d  %14s" % (w, p, k, "{:,}".format(n)))
    lines.append("-" * (w + 26))
    lines.append("total: {:,} values in {:,} tensors, {:.2f} MB ({})".format(
        total, sum(g[0] for g in groups.values()), nbytes / 1e6, ", ".join(sorted(dtypes))))
    lines.append("(a state_dict holds buffers too, e.g. batch-norm running statistics; for "
                 "layers, shapes and MACs: dlcore summary ARCH --weights %s --input-shape ...)"
                 % os.path.basename(path))
    return "\n".join(lines)


def add_parser(sub):
    s = sub.add_parser("summary", help="a model's layers, output shapes, parameters and MACs",
                       description=__doc__.split("\n", 1)[1],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("model", nargs="?", help="a .safetensors file or an architecture in "
                   "dl.models (see --list)")
    s.add_argument("--input-shape", nargs="+", type=int, metavar="N",
                   help="input shape with the batch dimension, e.g. 1 3 224 224")
    s.add_argument("--int-input", action="store_true",
                   help="the input holds token ids (int64), e.g. for BertModel")
    s.add_argument("--weights", metavar="FILE", help="safetensors state_dict to load into the "
                   "architecture")
    s.add_argument("--depth", type=int, default=None, metavar="D",
                   help="levels of submodules (or of name prefixes for a file; default 1) shown")
    s.add_argument("--list", action="store_true", help="list the architectures")
    return s


def cmd_summary(args, out):
    if args.list:
        print("architectures (dl.models, built with default arguments): %s"
              % ", ".join(architectures()), file=out)
        return 0
    if not args.model:
        print("dlcore summary: name a .safetensors file or an architecture (--list)",
              file=sys.stderr)
        return 2
    if args.depth is not None and args.depth < 1:
        print("dlcore summary: --depth must be >= 1, got %d" % args.depth, file=sys.stderr)
        return 2
    if os.path.isfile(args.model):
        if args.input_shape or args.weights:
            print("dlcore summary: --input-shape and --weights go with an architecture name; "
                  "a file alone lists its parameters", file=sys.stderr)
            return 2
        try:
            print(state_dict_summary(args.model, args.depth or 1), file=out)
        except ValueError as e:
            print("dlcore summary: %s" % e, file=sys.stderr)
            return 1
        return 0
    archs = architectures()
    if args.model not in archs:
        print("dlcore summary: %r is neither a file nor an architecture in dl.models (%s)"
              % (args.model, ", ".join(archs)), file=sys.stderr)
        return 2
    from . import models
    import dlcore as dl
    model = getattr(models, args.model)()
    if args.weights:
        try:
            model.load_state_dict(dl.load(args.weights))
        except (OSError, ValueError, RuntimeError) as e:
            print("dlcore summary: could not load %s into %s: %s" % (args.weights, args.model, e),
                  file=sys.stderr)
            return 1
    try:
        s = model.summary(tuple(args.input_shape) if args.input_shape else None,
                          dtypes=dl.int64 if args.int_input else None, depth=args.depth)
    except Exception as e:   # a shape the model cannot take: say so, no traceback
        print("dlcore summary: %s with input shape %s failed: %s: %s"
              % (args.model, tuple(args.input_shape or ()), type(e).__name__, e),
              file=sys.stderr)
        return 1
    print(s, file=out)
    return 0
