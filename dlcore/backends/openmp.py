"""dl.backends.openmp: whether the kernels were built with OpenMP threads."""
from ..runtime import have_openmp


def is_available():
    return bool(have_openmp())
