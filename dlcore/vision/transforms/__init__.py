"""dl.vision.transforms: torchvision.transforms' names for PIL images, CHW tensors and CHW
ndarrays (ToTensor reads ndarrays as HWC, as torchvision does)."""
from .transforms import *  # noqa: F401,F403
from . import functional  # noqa: F401
from .functional import InterpolationMode  # noqa: F401
