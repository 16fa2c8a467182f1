"""dl.serialization: torch.serialization's allowlist for loading whole modules.

dl.load(f) (weights_only=True, the default) rebuilds a saved Module only when every class and
function the file names is allowlisted here: `add_safe_globals([MyNet, nn.Linear, F.relu])`
or, for one load, `with dl.serialization.safe_globals([...]):`.  Names are compared with the
import paths written in the file, so nothing is imported to decide; weights_only=False trusts
the file completely, as in torch.
"""
from .io import _TREE, _open_meta
from .safe_globals_registry import (add_safe_globals, clear_safe_globals, get_safe_globals,
                                    is_safe, safe_globals)

__all__ = ["add_safe_globals", "clear_safe_globals", "get_safe_globals", "safe_globals",
           "get_unsafe_globals_in_checkpoint"]


def get_unsafe_globals_in_checkpoint(f):
    """The import paths ('module.qualname') of the classes/functions a dl.save file names
    that are not allowlisted now (empty for a state_dict)."""
    import json
    meta = _open_meta(f)
    found = []

    def walk(node):
        if isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, dict):
            for k in ("M", "fn"):
                if isinstance(node.get(k), str) and not is_safe(node[k]):
                    found.append(node[k].replace(":", "."))
            for v in node.values():
                walk(v)
    if _TREE in meta:
        walk(json.loads(meta[_TREE]))
    return sorted(set(found))
