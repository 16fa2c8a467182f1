"""dl.nn: layers, losses, init and utilities with PyTorch's names and state_dict layouts."""
from .parameter import (Parameter, Buffer, UninitializedParameter,  # noqa: F401
                        UninitializedBuffer)
from .modules.module import Module  # noqa: F401
from .modules.container import (Sequential, ModuleList, ModuleDict, ParameterList,  # noqa: F401
                                Container,
                                ParameterDict)
from .modules.linear import Identity, Linear  # noqa: F401
from .modules.flatten import Flatten, Unflatten  # noqa: F401
from .modules.activation import *  # noqa: F401,F403
from .modules.dropout import *  # noqa: F401,F403
from .modules.loss import *  # noqa: F401,F403
from .modules.perceptron import Perceptron  # noqa: F401
from .modules.rnn import *  # noqa: F401,F403
from .modules.sparse import Embedding, EmbeddingBag  # noqa: F401
from .modules.quantized import QuantizedLinear, QuantizedEmbedding  # noqa: F401
from . import init, functional, utils  # noqa: F401
from .modules.normalization import *  # noqa: F401,F403
from .modules.transformer import *  # noqa: F401,F403
from .modules.conv import *  # noqa: F401,F403
from .modules.pooling import (MaxPool2d, AvgPool2d, AdaptiveAvgPool2d,  # noqa: F401
                              AdaptiveMaxPool2d, MaxUnpool2d, MaxUnpool1d, MaxUnpool3d)
from .modules.upsampling import Upsample, UpsamplingNearest2d, UpsamplingBilinear2d  # noqa: F401
from .modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d  # noqa: F401
from . import parallel  # noqa: F401
from . import quantized  # noqa: F401
from .parallel import SyncBatchNorm  # noqa: F401
from .modules.positional import (SinusoidalPositionalEncoding,  # noqa: F401
                                 LearnedPositionalEmbedding)
from .modules.linear import Bilinear  # noqa: F401
from .modules.pooling_nd import *  # noqa: F401,F403
from .modules.instancenorm import *  # noqa: F401,F403
from .modules.distance import *  # noqa: F401,F403
from .modules.pixelshuffle import *  # noqa: F401,F403
from .modules.fold import Fold, Unfold  # noqa: F401
from .modules.padding import *  # noqa: F401,F403
from .modules.lazy import *  # noqa: F401,F403
from .modules.lp_lrn import *  # noqa: F401,F403
from .modules.pooling_fractional import *  # noqa: F401,F403
from .modules.adaptive import AdaptiveLogSoftmaxWithLoss  # noqa: F401
