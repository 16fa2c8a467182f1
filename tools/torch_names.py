"""Count the public torch names ordinary scripts use, per group, and how many dlcore has.

    python tools/torch_names.py            # the table
    python tools/torch_names.py --missing  # also list the missing names per group

torch is read here only as a list of names (a development aid, not part of dlcore or its tests).

The filter, per group, on torch 2.13's public `dir()`:
- public: no leading underscore, no dunder;
- kept: callables and classes (torch group: also dtype objects such as torch.float32), defined in
  torch itself (a class or function whose __module__ is torch._C.* internals, torch.jit, typing
  or another package is left out); at torch's top level the only classes counted are
  Tensor/Size/Generator/dtype/device/finfo/iinfo and the legacy *Tensor constructors (the rest
  are TorchScript IR types and exceptions);
- dropped as device-, backend- or internal-specific: names containing cuda, cudnn, miopen,
  mkldnn, mps, xpu, hpu, mtia, ipu, xla, vulkan, metal, fbgemm, quant, qint, quint, qscheme,
  q_ (quantized accessors), sparse_c / sparse_b / crow / ccol / col_indices / row_indices
  (compressed sparse internals), nested, storage, Storage, _copy (functional-view copies),
  native_, fake_, packed, autocast, sym_ / Sym, vmap, compile, jit, script, trace, export,
  float8 / float4 / complex32 / uint1-7 / int1-7 / bits (exotic dtypes), datapipe/validation/
  dispatch helpers, and the few names the
  torch docs mark deprecated (DEPRECATED below).
"""
import argparse
import inspect
import os
import re
import sys

# count the dlcore of this checkout, not whichever one is installed
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DROP = re.compile(r"cuda|cudnn|miopen|mkldnn|mps|xpu|hpu|mtia|ipu|xla|vulkan|metal|fbgemm|"
                  r"quant|qint|quint|qscheme|^q_|sparse_c|sparse_b|crow|ccol|col_indices|"
                  r"row_indices|nested|storage|Storage|_copy$|native_|fake_|packed|autocast|"
                  r"^sym_|^Sym|vmap|compile|jit|script|trace|export|float8|float4|complex32|"
                  r"^u?int[1-7]$|^bits|_backward|_out$|^is_inference|^fbgemm|deprecated|datapipe|"
                  r"validation|torch_function|dispatch|assert_int_or_pair|DataChunk",
                  re.IGNORECASE)
DEPRECATED = {"chain_matmul", "lu_solve", "lu_unpack", "matrix_rank", "symeig", "eig", "lstsq",
              "solve", "set_default_tensor_type", "Variable", "DataParallel",  # DataParallel: gpu
              "_LRScheduler", "inverse_sparse"}
KEEP_INTERNAL = {"Tensor", "Size", "Generator", "dtype", "device", "finfo", "iinfo"}


def _public(obj, torch_obj=False):
    import torch
    out = set()
    for n in dir(obj):
        if n.startswith("_") or DROP.search(n) or n in DEPRECATED:
            continue
        try:
            v = getattr(obj, n)
        except Exception:
            continue
        if torch_obj and isinstance(v, torch.dtype):
            out.add(n)
            continue
        # torch's top level re-exports many TorchScript/IR classes; scripts name only these
        if torch_obj and inspect.isclass(v) and not (n in KEEP_INTERNAL or n.endswith("Tensor")):
            continue
        if inspect.ismodule(v) or not callable(v):
            continue
        mod = getattr(v, "__module__", None) or ""
        if n not in KEEP_INTERNAL and (mod.startswith(("torch._C", "torch.jit", "typing"))
                                       or (mod and not mod.startswith("torch"))):
            continue
        out.add(n)
    return out


def _tensor_names():
    import torch
    out = set()
    for n in dir(torch.Tensor):
        if n.startswith("_") or DROP.search(n) or n in DEPRECATED:
            continue
        out.add(n)
    return out


def torch_groups():
    import torch
    import torch.nn.functional as F
    import torch.optim.lr_scheduler as lrs
    import torch.utils.data as tud
    import torch.autograd.functional as agf
    nn = {n for n in _public(torch.nn) if inspect.isclass(getattr(torch.nn, n))}
    optim = _public(torch.optim) | {"lr_scheduler." + n for n in _public(lrs)
                                    if inspect.isclass(getattr(lrs, n))
                                    and getattr(lrs, n).__module__ == lrs.__name__}
    autograd = _public(torch.autograd) | {"functional." + n for n in _public(agf)
                                          if inspect.isfunction(getattr(agf, n))}
    return {
        "torch": _public(torch, torch_obj=True),
        "Tensor": _tensor_names(),
        "nn": nn,
        "F": {n for n in _public(F) if inspect.isfunction(getattr(F, n))
              or inspect.isbuiltin(getattr(F, n))},
        "optim": optim,
        "data": _public(tud),
        "autograd": autograd,
    }


def _has(obj, dotted):
    for part in dotted.split("."):
        try:
            obj = getattr(obj, part)
        except Exception:
            return False
    return True


def dlcore_roots():
    import dlcore as dl
    import dlcore.nn.functional as F
    roots = {"torch": [dl], "Tensor": [dl.Tensor], "nn": [dl.nn], "F": [F]}
    for group, name in (("optim", "optim"), ("data", "data"), ("autograd", "autograd")):
        try:
            roots[group] = [getattr(dl, name)]
        except Exception:
            roots[group] = []
    try:
        import dlcore.utils.data as udata
        roots["data"].append(udata)
    except Exception:
        pass
    return roots


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--missing", action="store_true", help="list the missing names per group")
    args = ap.parse_args(argv)
    groups = torch_groups()
    roots = dlcore_roots()
    print("%-9s %6s %7s %6s" % ("group", "torch", "dlcore", "share"))
    total_t = total_d = 0
    missing = {}
    for g, names in groups.items():
        have = {n for n in names if any(_has(r, n) for r in roots[g])}
        missing[g] = sorted(names - have)
        total_t += len(names)
        total_d += len(have)
        print("%-9s %6d %7d %5.0f%%" % (g, len(names), len(have), 100.0 * len(have) / len(names)))
    print("%-9s %6d %7d %5.0f%%" % ("all", total_t, total_d, 100.0 * total_d / total_t))
    if args.missing:
        for g, names in missing.items():
            print("\n[%s] missing %d:\n  %s" % (g, len(names), " ".join(names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
