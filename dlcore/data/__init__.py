"""dl.data: datasets, samplers, the DataLoader, bundled datasets and file-format readers."""
from .dataset import (Dataset, TensorDataset, Subset, ConcatDataset, random_split,  # noqa: F401
                      StackDataset)
from .sampler import (Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler,  # noqa: F401
                      BatchSampler, WeightedRandomSampler)
from .iterable import IterableDataset, ChainDataset  # noqa: F401
from .distributed_sampler import DistributedSampler  # noqa: F401
from .collate import default_collate, default_convert  # noqa: F401
from .dataloader import DataLoader, get_worker_info  # noqa: F401
from .datasets import Bunch, load_iris, load_digits  # noqa: F401
from .audio import load_spoken_digits, log_mel_spectrogram, mel_filterbank  # noqa: F401
from .idx import read_idx, write_idx, load_mnist_idx  # noqa: F401
from .images import (load_fashion_mnist, load_mnist, fashion_mnist_installed,  # noqa: F401
                     FASHION_MNIST_CLASSES)
from .preprocessing import train_test_split, StandardScaler, one_hot  # noqa: F401
from .series import load_sunspots, load_co2, make_seasonal_series  # noqa: F401
from .corpora import (load_shakespeare, load_vader_movie_reviews, fetch_vader,  # noqa: F401
                      data_home, DatasetNotFoundError)
from .transforms import GaussianNoise, SaltAndPepper, RandomMask, Compose  # noqa: F401
