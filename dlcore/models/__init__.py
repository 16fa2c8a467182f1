"""dl.models: reference architectures with PyTorch / torchvision / Hugging Face state_dict keys."""
from . import bert  # noqa: F401
from .bert import BertModel, BertConfig  # noqa: F401
from .sentence import SentenceEncoder  # noqa: F401
from .lenet import LeNet5  # noqa: F401
from .vgg import SmallVGG  # noqa: F401
from .resnet import BasicBlock, Bottleneck, ResNet, resnet_small  # noqa: F401
from .autoencoder import (DenseAutoencoder, ConvAutoencoder, Autoencoder, VAE, vae_loss,  # noqa: F401
                          reconstruction_error, fit_autoencoder, anomaly_threshold)
from .gan import MLPGenerator, MLPDiscriminator, DCGenerator, DCDiscriminator, fit_gan  # noqa: F401
from .gpt import GPT, GPTConfig, KVCache  # noqa: F401
from .seq2seq import Seq2SeqTransformer  # noqa: F401
from .autoencoder import DenseAutoencoder, ConvAutoencoder, VAE, vae_loss, reconstruction_error  # noqa: F401
from .gan import MLPGenerator, MLPDiscriminator, DCGenerator, DCDiscriminator  # noqa: F401
from . import llama  # noqa: F401
from .llama import LlamaForCausalLM, LlamaConfig  # noqa: F401
