"""dl.nn: layers, losses, init and utilities with PyTorch's names and state_dict layouts."""
from .parameter import Parameter  # noqa: F401
from .modules.module import Module  # noqa: F401
from .modules.container import (Sequential, ModuleList, ModuleDict, ParameterList,  # noqa: F401
                                ParameterDict)
from .modules.linear import Identity, Linear  # noqa: F401
from .modules.flatten import Flatten, Unflatten  # noqa: F401
from .modules.activation import *  # noqa: F401,F403
from .modules.dropout import *  # noqa: F401,F403
from .modules.loss import *  # noqa: F401,F403
from . import init, functional, utils  # noqa: F401
from .modules.normalization import *  # noqa: F401,F403
from .modules.transformer import *  # noqa: F401,F403
