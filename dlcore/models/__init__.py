"""dl.models: reference architectures with PyTorch / torchvision / Hugging Face state_dict keys."""
from . import bert  # noqa: F401
from .bert import BertModel, BertConfig  # noqa: F401
from .sentence import SentenceEncoder  # noqa: F401
from .lenet import LeNet5  # noqa: F401
from .vgg import (SmallVGG, VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn,  # noqa: F401
                  vgg19, vgg19_bn)
from .resnet import (BasicBlock, Bottleneck, ResNet, resnet_small, resnet18, resnet34,  # noqa: F401
                     resnet50, resnet101, resnet152, resnext50_32x4d, resnext101_32x8d,
                     wide_resnet50_2, wide_resnet101_2)
from .mobilenet import MobileNetV2, mobilenet_v2  # noqa: F401
from .efficientnet import EfficientNetLite, efficientnet_lite0  # noqa: F401
from . import imagenet  # noqa: F401
from .finetune import (freeze, unfreeze, trainable_state_dict, param_groups,  # noqa: F401
                       freeze_batchnorm)
from .autoencoder import (DenseAutoencoder, ConvAutoencoder, Autoencoder, VAE, vae_loss,  # noqa: F401
                          reconstruction_error, fit_autoencoder, anomaly_threshold)
from .gan import MLPGenerator, MLPDiscriminator, DCGenerator, DCDiscriminator, fit_gan  # noqa: F401
from .gpt import GPT, GPTConfig, KVCache  # noqa: F401
from .seq2seq import Seq2SeqTransformer  # noqa: F401
from . import llama  # noqa: F401
from .llama import LlamaForCausalLM, LlamaConfig  # noqa: F401
