"""Flattening nested tuples / lists / dicts of tensors (the arguments torch.func takes) into a
list of leaves and back."""


def flatten(tree):
    """(leaves, spec): leaves in a fixed order, spec to rebuild the same structure."""
    if isinstance(tree, (tuple, list)):
        leaves, specs = [], []
        for item in tree:
            sub, spec = flatten(item)
            leaves += sub
            specs.append(spec)
        return leaves, (type(tree), specs)
    if isinstance(tree, dict):
        leaves, specs = [], []
        for k in tree:
            sub, spec = flatten(tree[k])
            leaves += sub
            specs.append((k, spec))
        return leaves, (dict, specs)
    return [tree], None


def unflatten(leaves, spec):
    out, rest = _build(list(leaves), spec)
    return out


def _build(leaves, spec):
    if spec is None:
        return leaves[0], leaves[1:]
    kind, specs = spec
    if kind is dict:
        out = {}
        for k, s in specs:
            out[k], leaves = _build(leaves, s)
        return out, leaves
    items = []
    for s in specs:
        v, leaves = _build(leaves, s)
        items.append(v)
    return (tuple(items) if kind is tuple else items), leaves
