"""The optimizing passes, one idea per file; each takes a concrete Graph, rewrites it in place
and returns how many rewrites it made.  `optimize` runs them in order."""
from . import (dead_nodes, eliminate_transposes, fold_batchnorm, fold_constants,
               fuse_add_layernorm, fuse_attention, fuse_epilogue, fuse_qlinear_act,
               fuse_mbconv, fuse_residual, identity,
               merge_gemms)

__all__ = ["optimize", "PIPELINE"]

PIPELINE = (
    ("identity", identity.run),
    ("fold_constants", fold_constants.run),
    ("dead_nodes", dead_nodes.run),
    ("fold_batchnorm", fold_batchnorm.run),
    ("fuse_attention", fuse_attention.run),
    ("eliminate_transposes", eliminate_transposes.run),
    ("fuse_epilogue", fuse_epilogue.run),
    ("fuse_residual", fuse_residual.run),
    ("fuse_mbconv", fuse_mbconv.run),
    ("fuse_qlinear_act", fuse_qlinear_act.run),
    ("merge_gemms", merge_gemms.run),
    ("fuse_add_layernorm", fuse_add_layernorm.run),
    ("fold_constants", fold_constants.run),
    ("dead_nodes", dead_nodes.run),
)


def optimize(graph, log=None):
    """Runs the pipeline on `graph` (in place); `log`, a list, receives (pass, rewrites)."""
    for name, fn in PIPELINE:
        k = fn(graph)
        if log is not None:
            log.append((name, k))
    graph.check()
    return graph
