"""`dlcore run MODEL.onnx --input x.npy`: run an ONNX model on dlcore's executor and print its
outputs and latency.

Inputs are .npy files in the graph's input order (--input a.npy b.npy), by name
(--input ids=ids.npy), or one .npz holding arrays named as the graph inputs.  With --random,
inputs the command does not get are drawn at random from their declared shapes (dynamic dims
set by --dim NAME=SIZE, else 1).  The first call builds the plan for those shapes; the
latency reported is the median of the calls after it (--repeat, --threads).
"""
import argparse
import os
import sys
import time

__all__ = ["add_parser", "cmd_run"]


def add_parser(sub):
    r = sub.add_parser("run", help="run an ONNX model: its outputs and latency",
                       description=__doc__.split("\n", 1)[1],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("model", help="an .onnx file")
    r.add_argument("--input", "-i", nargs="+", default=[], metavar="FILE",
                   help="inputs: x.npy (in order), name=x.npy, or one .npz by name")
    r.add_argument("--random", action="store_true",
                   help="random inputs for those not given (floats ~ N(0,1), ints 0..9)")
    r.add_argument("--dim", nargs="+", default=[], metavar="NAME=SIZE",
                   help="sizes of dynamic dims for --random (default 1)")
    r.add_argument("--repeat", type=int, default=None, metavar="N",
                   help="timed calls after the first (default: about one second's worth)")
    r.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads per call (default: dlcore's setting)")
    r.add_argument("--save", metavar="FILE.npz", help="write the outputs to an .npz file")
    r.add_argument("--plan", action="store_true", help="print the optimized plan's steps")
    r.add_argument("--no-optimize", action="store_true", help="plan without the jit passes")
    return r


def _fail(msg):
    print("dlcore run: %s" % msg, file=sys.stderr)
    return 2


def _read_inputs(args, specs, np):
    """{input name: array} from --input (raises ValueError with what is wrong)."""
    names = [s.name for s in specs]
    given, order = {}, []
    for item in args.input:
        if "=" in item and not os.path.exists(item):
            name, path = item.split("=", 1)
            if name not in names:
                raise ValueError("--input %s: the model has no input %r (inputs: %s)"
                                 % (item, name, ", ".join(names)))
            given[name] = np.load(path, allow_pickle=False)
        elif item.endswith(".npz"):
            with np.load(item, allow_pickle=False) as z:
                for k in z.files:
                    if k not in names:
                        raise ValueError("%s holds %r, which is not an input of the model "
                                         "(inputs: %s)" % (item, k, ", ".join(names)))
                    given[k] = z[k]
        else:
            order.append(np.load(item, allow_pickle=False))
    free = [n for n in names if n not in given]
    if len(order) > len(free):
        raise ValueError("%d positional inputs for the %d inputs left (%s)"
                         % (len(order), len(free), ", ".join(free)))
    given.update(zip(free, order))
    return given


def _random_inputs(specs, given, dims, np):
    rng = np.random.default_rng(0)
    for s in specs:
        if s.name in given:
            continue
        shape = []
        for d in s.dims:
            if isinstance(d, int):
                shape.append(d)
            else:
                shape.append(dims.get(d, 1) if isinstance(d, str) else 1)
        if s.dtype.kind == "f":
            given[s.name] = rng.standard_normal(shape).astype(s.dtype)
        elif s.dtype.kind in "iu":
            given[s.name] = rng.integers(0, 10, shape).astype(s.dtype)
        else:
            given[s.name] = np.ones(shape, s.dtype)
    return given


def _show(name, a, np, out):
    print("%s: %s %s" % (name, a.dtype.name, tuple(a.shape)), file=out)
    with np.printoptions(precision=5, threshold=20, edgeitems=3, linewidth=96,
                         suppress=True):
        print("  " + np.array2string(a, prefix="  "), file=out)
    if a.size > 20 and a.dtype.kind in "fiu":
        f = a.astype(np.float64)
        print("  min %.6g  max %.6g  mean %.6g" % (f.min(), f.max(), f.mean()), file=out)


def cmd_run(args, out):
    import numpy as np
    try:
        from . import onnx as dlonnx
    except ImportError as e:
        return _fail("needs the onnx package (pip install \"dlcore[onnx]\"): %s" % e)
    if args.repeat is not None and args.repeat < 1:
        return _fail("--repeat must be >= 1")
    if args.threads is not None and args.threads < 1:
        return _fail("--threads must be >= 1")
    dims = {}
    for item in args.dim:
        name, _, size = item.partition("=")
        if not size.isdigit() or int(size) < 1:
            return _fail("--dim expects NAME=SIZE with SIZE >= 1, got %r" % item)
        dims[name] = int(size)
    t0 = time.perf_counter()
    try:
        plan = dlonnx.load(args.model, optimize=not args.no_optimize)
    except (OSError, dlonnx.OnnxError) as e:
        return _fail(str(e))
    t_load = time.perf_counter() - t0
    specs = plan.model.inputs
    try:
        given = _read_inputs(args, specs, np)
    except (OSError, ValueError) as e:
        return _fail(str(e))
    if args.random:
        given = _random_inputs(specs, given, dims, np)
    missing = [s.name for s in specs if s.name not in given]
    if missing:
        return _fail("no value for input%s %s (give --input, or --random)"
                     % ("s" if len(missing) > 1 else "", ", ".join(missing)))
    print("%s: opset %d, %d nodes, loaded in %.1f ms" % (args.model, plan.model.opset,
                                                         len(plan.model.graph.node),
                                                         t_load * 1e3), file=out)
    for s in specs:
        print("  input %s: %s %s" % (s.name, given[s.name].dtype.name,
                                     tuple(given[s.name].shape)), file=out)
    try:
        t0 = time.perf_counter()
        outs = plan.run(num_threads=args.threads, **given)
        t_first = time.perf_counter() - t0
    except (TypeError, ValueError, RuntimeError) as e:
        return _fail(str(e))
    p = plan.plan(**given)
    if args.plan:
        print(p, file=out)
    n = args.repeat
    if n is None:
        t0 = time.perf_counter()
        plan.run(num_threads=args.threads, **given)
        one = max(time.perf_counter() - t0, 1e-6)
        n = int(min(max(1.0 / one, 3), 10000))
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        plan.run(num_threads=args.threads, **given)
        times.append(time.perf_counter() - t0)
    times = np.sort(np.asarray(times)) * 1e3
    for name, a in zip(plan.output_names, outs):
        _show(name, a, np, out)
    steps = len(getattr(p, "steps", ()))
    py = getattr(p, "n_python_steps", 0)
    print("latency: first call %.3f ms (builds the plan: %d steps%s), then median %.3f ms "
          "(min %.3f, p90 %.3f) over %d calls, %s thread%s"
          % (t_first * 1e3, steps, ", %d in Python" % py if py else "", np.median(times),
             times[0], times[int(0.9 * (len(times) - 1))], n,
             args.threads or _threads(), "" if (args.threads or _threads()) == 1 else "s"),
          file=out)
    if args.save:
        np.savez(args.save, **dict(zip(plan.output_names, outs)))
        print("outputs written to %s" % args.save, file=out)
    return 0


def _threads():
    from .runtime import get_num_threads
    return get_num_threads()
