"""The compiled kernels (one extension module); see dlcore/_C/_ext.pyx."""
from ._ext import *  # noqa: F401,F403
from . import _ext as ext  # noqa: F401
