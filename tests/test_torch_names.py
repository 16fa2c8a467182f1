"""The torch names scripts import (issue 14, item 3 and 5): every name of the list is present
in dlcore under torch's spelling and module path, and the nn.utils helpers that had no test
(clip_grad_value_, clip_grad_norm_ with every norm type) agree with torch."""
import importlib

import numpy as np
import pytest

import dlcore as dl

NN = ("GroupNorm InstanceNorm1d InstanceNorm2d InstanceNorm3d PReLU RReLU ELU SELU Hardswish "
      "Hardsigmoid Mish Softplus Conv1d Conv3d MaxPool1d AvgPool1d AdaptiveAvgPool1d "
      "AdaptiveMaxPool1d MaxPool3d AvgPool3d AdaptiveAvgPool3d AdaptiveMaxPool3d PixelShuffle "
      "PixelUnshuffle ChannelShuffle CosineSimilarity PairwiseDistance TripletMarginLoss "
      "TripletMarginWithDistanceLoss KLDivLoss SmoothL1Loss HuberLoss MarginRankingLoss "
      "CosineEmbeddingLoss BCEWithLogitsLoss Unflatten Identity Bilinear Fold Unfold Dropout1d "
      "Dropout2d Dropout3d ZeroPad2d ConstantPad1d ConstantPad2d ConstantPad3d ReflectionPad1d "
      "ReflectionPad2d ReplicationPad2d CircularPad2d").split()
F = ("normalize cosine_similarity one_hot grid_sample affine_grid unfold fold pairwise_distance "
     "triplet_margin_loss triplet_margin_with_distance_loss kl_div smooth_l1_loss huber_loss "
     "group_norm instance_norm prelu rrelu elu selu hardswish hardsigmoid mish softplus conv1d "
     "conv3d max_pool1d avg_pool1d adaptive_avg_pool1d adaptive_max_pool1d max_pool3d "
     "avg_pool3d adaptive_avg_pool3d adaptive_max_pool3d pixel_shuffle pixel_unshuffle "
     "channel_shuffle margin_ranking_loss cosine_embedding_loss bilinear "
     "binary_cross_entropy_with_logits dropout1d dropout2d dropout3d").split()
PATHS = {
    "dlcore.nn.modules.activation": "PReLU ReLU ELU",
    "dlcore.nn.modules.linear": "Linear Bilinear Identity",
    "dlcore.nn.modules.conv": "Conv1d Conv2d Conv3d ConvTranspose2d",
    "dlcore.nn.modules.loss": "MarginRankingLoss TripletMarginLoss CosineEmbeddingLoss",
    "dlcore.nn.modules.pooling": "MaxPool1d MaxPool2d MaxPool3d AvgPool3d",
    "dlcore.nn.modules.normalization": "LayerNorm GroupNorm",
    "dlcore.nn.modules.instancenorm": "InstanceNorm1d InstanceNorm2d",
    "dlcore.nn.modules.distance": "CosineSimilarity PairwiseDistance",
    "dlcore.nn.modules.pixelshuffle": "PixelShuffle PixelUnshuffle",
    "dlcore.nn.modules.channelshuffle": "ChannelShuffle",
    "dlcore.nn.modules.fold": "Fold Unfold",
    "dlcore.nn.modules.padding": "ZeroPad2d ReflectionPad2d",
    "dlcore.nn.modules.dropout": "Dropout Dropout2d",
    "dlcore.nn.modules.batchnorm": "BatchNorm1d BatchNorm2d",
    "dlcore.nn.modules.rnn": "LSTM GRU",
    "dlcore.nn.modules.container": "Sequential ModuleList",
    "dlcore.nn.modules.module": "Module",
    "dlcore.nn.utils": "clip_grad_norm_ clip_grad_value_ weight_norm remove_weight_norm "
                       "spectral_norm parametrize parametrizations",
    "dlcore.nn.utils.parametrizations": "weight_norm spectral_norm",
    "dlcore.nn.utils.parametrize": "register_parametrization remove_parametrizations "
                                   "is_parametrized cached",
    "dlcore.nn.utils.rnn": "pad_sequence pack_padded_sequence pad_packed_sequence "
                           "pack_sequence PackedSequence",
    "dlcore.utils.data": "IterableDataset WeightedRandomSampler Subset ConcatDataset "
                         "random_split SubsetRandomSampler BatchSampler default_collate "
                         "get_worker_info DataLoader Dataset TensorDataset",
    "dlcore.optim": "Adadelta LBFGS SGD Adam",
    "dlcore.optim.lr_scheduler": "StepLR OneCycleLR CosineAnnealingLR ReduceLROnPlateau "
                                 "ExponentialLR LambdaLR",
    "dlcore.distributions": "Categorical Normal Bernoulli Uniform kl_divergence",
    "dlcore.multiprocessing": "Process spawn get_context set_start_method Queue",
    "dlcore.sparse": "mm",
    "dlcore.vision.transforms": "Compose ToTensor PILToTensor Normalize Resize CenterCrop "
                                "RandomCrop RandomHorizontalFlip RandomVerticalFlip "
                                "RandomResizedCrop RandomRotation ColorJitter Grayscale Lambda",
    "dlcore.vision.datasets": "ImageFolder DatasetFolder",
}


@pytest.mark.parametrize("name", NN)
def test_nn_name(name):
    assert isinstance(getattr(dl.nn, name), type)


@pytest.mark.parametrize("name", F)
def test_functional_name(name):
    assert callable(getattr(dl.nn.functional, name))


@pytest.mark.parametrize("module", sorted(PATHS))
def test_module_paths(module):
    mod = importlib.import_module(module)
    missing = [n for n in PATHS[module].split() if not hasattr(mod, n)]
    assert not missing, "%s lacks %s" % (module, missing)


def test_top_level_and_tensor_names():
    for n in ("sparse_coo_tensor", "spmm", "distributions", "multiprocessing", "sparse",
              "vision"):
        assert hasattr(dl, n), n
    for n in ("share_memory_", "is_shared", "to_sparse", "to_dense"):
        assert hasattr(dl.Tensor, n), n
    assert hasattr(dl.nn.Module, "share_memory")


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.0])
def test_clip_grad_norm_matches_torch(norm_type):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    gs = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    ps = [dl.tensor(np.zeros_like(g), requires_grad=True) for g in gs]
    ts = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in gs]
    for p, t, g in zip(ps, ts, gs):
        p.grad = dl.tensor(g.copy())
        t.grad = torch.tensor(g.copy())
    n1 = dl.nn.utils.clip_grad_norm_(ps, 0.5, norm_type)
    n2 = torch.nn.utils.clip_grad_norm_(ts, 0.5, norm_type)
    assert abs(float(n1) - float(n2)) < 1e-9
    for p, t in zip(ps, ts):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-6)


def test_clip_grad_value_matches_torch():
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(1).standard_normal((4, 5)) * 2
    p = dl.tensor(np.zeros((4, 5)), requires_grad=True)
    t = torch.zeros((4, 5), dtype=torch.float64, requires_grad=True)
    p.grad, t.grad = dl.tensor(g.copy()), torch.tensor(g.copy())
    dl.nn.utils.clip_grad_value_([p], 0.7)
    torch.nn.utils.clip_grad_value_([t], 0.7)
    np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())
