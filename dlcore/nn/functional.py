"""dl.nn.functional (F): the functional forms of the layers, gathered from dlcore.ops."""
from ..ops.matmul import linear  # noqa: F401
from ..ops.activation import *  # noqa: F401,F403
from ..ops.activation_shrink import *  # noqa: F401,F403
from ..ops.loss import *  # noqa: F401,F403
from ..ops.loss_margin import *  # noqa: F401,F403
from ..ops.dropout import dropout  # noqa: F401
from ..ops.shape_fn import pad, one_hot  # noqa: F401
from ..ops.layernorm import *  # noqa: F401,F403
from ..ops.attention import *  # noqa: F401,F403
from ..ops.conv import *  # noqa: F401,F403
from ..ops.pool import *  # noqa: F401,F403
from ..ops.batchnorm import *  # noqa: F401,F403
from ..ops.dropout import dropout1d, dropout2d, dropout3d  # noqa: F401
from ..ops.sparse import embedding  # noqa: F401
from ..ops.distance import *  # noqa: F401,F403
from ..ops.groupnorm import *  # noqa: F401,F403
from ..ops.pool_nd import *  # noqa: F401,F403
from ..ops.conv3d import conv3d  # noqa: F401
from ..ops.conv_transpose import conv_transpose1d, conv_transpose3d  # noqa: F401
from ..ops.pixel_shuffle import *  # noqa: F401,F403
from ..ops.prelu import *  # noqa: F401,F403
from ..ops.bilinear import bilinear  # noqa: F401
from ..ops.fold import unfold, fold  # noqa: F401
from ..ops.grid_sample import affine_grid, grid_sample  # noqa: F401
from ..ops.functional_forms import *  # noqa: F401,F403
from ..ops.loss_multiclass import multi_margin_loss, multilabel_margin_loss  # noqa: F401
from ..ops.dropout_alpha import alpha_dropout, feature_alpha_dropout  # noqa: F401
from ..ops.gumbel import gumbel_softmax  # noqa: F401
from ..ops.lp_pool import lp_pool1d, lp_pool2d, lp_pool3d, local_response_norm  # noqa: F401
from ..ops.embedding_bag import embedding_bag  # noqa: F401
from ..ops.max_unpool_nd import max_unpool1d, max_unpool3d  # noqa: F401
from ..ops.ctc import ctc_loss  # noqa: F401
from ..ops.fractional_pool import (fractional_max_pool2d, fractional_max_pool3d,  # noqa: F401
                                  fractional_max_pool2d_with_indices,
                                  fractional_max_pool3d_with_indices)
