"""Symbolic sizes: an int in a traced graph (a value's shape entry, a Reshape target, a slice
bound) that follows a dynamic input dimension is held as a `Dim` expression
`coef * prod(sym ** exp) + offset` over the named dims ("batch", "seq", ...).

Expressions are not derived by per-op shape rules: the tracer runs the model at the example
sizes and again with each dynamic dim changed, and `fit` finds the expression from the ints it
saw (then a last run with every dim changed checks the fit).  `concrete` turns any attribute
structure back into plain ints for given dim sizes.
"""
import math

import numpy as np

__all__ = ["Dim", "FullArray", "fit", "concrete", "has_symbols", "SymbolicError"]


class SymbolicError(ValueError):
    """An int of the graph changes with a dynamic dim in a way no Dim expression matches."""


class Dim:
    """coef * prod(name ** exp for name, exp in powers) + offset, an int for every size."""

    __slots__ = ("coef", "powers", "offset")

    def __init__(self, coef, powers, offset=0):
        self.coef, self.offset = int(coef), int(offset)
        self.powers = tuple(sorted((str(n), int(e)) for n, e in powers if e))

    @classmethod
    def of(cls, name):
        return cls(1, ((name, 1),))

    def eval(self, env):
        v = self.coef
        for n, e in self.powers:
            if n not in env:
                raise KeyError("Dim: no size given for dim %r" % n)
            v *= int(env[n]) ** e
        return v + self.offset

    def symbols(self):
        return {n for n, _ in self.powers}

    def _key(self):
        return (self.coef, self.powers, self.offset)

    def __eq__(self, other):
        return isinstance(other, Dim) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        terms = "*".join(n if e == 1 else "%s^%d" % (n, e) for n, e in self.powers)
        if not terms:
            return str(self.coef + self.offset)
        s = terms if self.coef == 1 else ("-" + terms if self.coef == -1
                                          else "%d*%s" % (self.coef, terms))
        if self.offset:
            s += "%+d" % self.offset
        return s


class FullArray:
    """A 1-D array attribute of `length` copies of `value` (e.g. an RNN's per-step batch sizes
    over a dynamic sequence length); both may be Dims."""

    __slots__ = ("length", "value", "dtype")

    def __init__(self, length, value, dtype):
        self.length, self.value, self.dtype = length, value, np.dtype(dtype)

    def __eq__(self, other):
        return isinstance(other, FullArray) and (self.length, self.value, self.dtype) == \
            (other.length, other.value, other.dtype)

    def __hash__(self):
        return hash((repr(self.length), repr(self.value), self.dtype))

    def __repr__(self):
        return "full(%r, %r)" % (self.length, self.value)


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _fit_int(where, v0, env0, others):
    """The Dim (or int) through (env0, v0) and each (env, v) of `others`, where env changes
    exactly one dim of env0."""
    powers = []
    for env, v in others:
        if v != v0 and all(env[n] == env0[n] for n in env0):
            raise SymbolicError("%s: %d at %s, %d in another run at the same sizes"
                                % (where, v0, _env_str(env0), v))
    changed = [(name, env[name], v) for env, v in others
               for name in env if env[name] != env0[name]]
    moving = [(n, s1, v1) for n, s1, v1 in changed if v1 != v0]
    if not moving:
        return int(v0)
    s0 = {n: env0[n] for n, _, _ in moving}
    if v0 != 0 and all(v1 != 0 and (v1 > 0) == (v0 > 0) for _, _, v1 in moving):
        ok = True
        for n, s1, v1 in moving:
            e = math.log(v1 / v0) / math.log(s1 / s0[n])
            if abs(e - round(e)) > 1e-9 or round(e) < 1:
                ok = False
                break
            powers.append((n, int(round(e))))
        if ok:
            den = 1
            for n, e in powers:
                den *= s0[n] ** e
            if v0 % den == 0:
                return Dim(v0 // den, powers)
    if len(moving) == 1:
        n, s1, v1 = moving[0]
        if (v1 - v0) % (s1 - s0[n]) == 0:
            c = (v1 - v0) // (s1 - s0[n])
            return Dim(c, ((n, 1),), v0 - c * s0[n])
    raise SymbolicError(
        "%s: the value %d (at %s) becomes %s when the dynamic dims change; it is not "
        "coef * dims + offset of them, so the graph cannot follow it: mark those dims static"
        % (where, v0, _env_str(env0), ", ".join("%d at %s" % (v, _env_str(e))
                                                for e, v in others)))


def _env_str(env):
    return ", ".join("%s=%d" % kv for kv in sorted(env.items()))


def fit(where, base, env0, others):
    """`base` (an attribute structure from the trace at env0) with every int that changes
    across `others` [(env, same structure)] replaced by its Dim.  Anything that is not an int
    must stay equal."""
    if _is_int(base):
        return _fit_int(where, int(base), env0, [(e, int(o)) for e, o in others])
    if isinstance(base, (tuple, list)):
        for _, o in others:
            if not isinstance(o, type(base)) or len(o) != len(base):
                raise SymbolicError("%s: %r becomes %r when the dynamic dims change"
                                    % (where, base, o))
        out = [fit("%s[%d]" % (where, i), b, env0, [(e, o[i]) for e, o in others])
               for i, b in enumerate(base)]
        return tuple(out) if isinstance(base, tuple) else out
    if isinstance(base, slice):
        parts = [fit(where, getattr(base, a), env0,
                     [(e, getattr(o, a) if isinstance(o, slice) else None) for e, o in others])
                 for a in ("start", "stop", "step")]
        return slice(*parts)
    if isinstance(base, dict):
        return {k: fit("%s.%s" % (where, k), v, env0, [(e, o[k]) for e, o in others])
                for k, v in base.items()}
    if isinstance(base, np.ndarray):
        if all(isinstance(o, np.ndarray) and o.shape == base.shape and np.array_equal(o, base)
               for _, o in others):
            return base
        arrs = [base] + [o for _, o in others]
        if all(isinstance(a, np.ndarray) and a.ndim == 1 and a.size and (a == a[0]).all()
               for a in arrs):
            return FullArray(fit(where + ".length", base.size, env0,
                                 [(e, o.size) for e, o in others]),
                             fit(where + ".value", base[0].item(), env0,
                                 [(e, o[0].item()) for e, o in others]), base.dtype)
        raise SymbolicError("%s: an array attribute changes when the dynamic dims change"
                            % where)
    for _, o in others:
        if not _same(base, o):
            raise SymbolicError("%s: %r becomes %r when the dynamic dims change; only ints can "
                                "follow a dynamic dim" % (where, base, o))
    return base


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b)
    try:
        return bool(a == b)
    except Exception:
        return a is b


def concrete(obj, env):
    """obj with every Dim evaluated and every FullArray built for dim sizes `env`."""
    if isinstance(obj, Dim):
        return obj.eval(env)
    if isinstance(obj, FullArray):
        return np.full(concrete(obj.length, env), concrete(obj.value, env), obj.dtype)
    if isinstance(obj, tuple):
        return tuple(concrete(o, env) for o in obj)
    if isinstance(obj, list):
        return [concrete(o, env) for o in obj]
    if isinstance(obj, slice):
        return slice(concrete(obj.start, env), concrete(obj.stop, env), concrete(obj.step, env))
    if isinstance(obj, dict):
        return {k: concrete(v, env) for k, v in obj.items()}
    return obj


def has_symbols(obj):
    if isinstance(obj, (Dim, FullArray)):
        return True
    if isinstance(obj, (tuple, list)):
        return any(has_symbols(o) for o in obj)
    if isinstance(obj, slice):
        return has_symbols((obj.start, obj.stop, obj.step))
    if isinstance(obj, dict):
        return any(has_symbols(v) for v in obj.values())
    return False
