"""dl.models: reference architectures with PyTorch / Hugging Face state_dict keys."""
from . import bert  # noqa: F401
from .bert import BertModel, BertConfig  # noqa: F401
from .sentence import SentenceEncoder  # noqa: F401
