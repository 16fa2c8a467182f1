"""dl.distributions: PyTorch's probability distributions that training scripts use
(REINFORCE's Categorical, VAEs' Normal and kl_divergence, Bernoulli, Uniform)."""
from .distribution import Distribution  # noqa: F401
from .normal import Normal  # noqa: F401
from .categorical import Categorical, OneHotCategorical  # noqa: F401
from .bernoulli import Bernoulli  # noqa: F401
from .uniform import Uniform  # noqa: F401
from .kl import kl_divergence, register_kl  # noqa: F401
from . import kl  # noqa: F401

__all__ = ["Distribution", "Normal", "Categorical", "OneHotCategorical", "Bernoulli", "Uniform",
           "kl_divergence", "register_kl"]
