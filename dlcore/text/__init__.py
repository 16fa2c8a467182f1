"""dl.text: tokenizers implemented in Python (no `tokenizers` dependency at run time)."""
from .wordpiece import WordPieceTokenizer, BasicTokenizer  # noqa: F401
from .vocab import Vocab, sample_logits  # noqa: F401
from .bpe import BPETokenizer, StreamDecoder, bytes_to_unicode  # noqa: F401
