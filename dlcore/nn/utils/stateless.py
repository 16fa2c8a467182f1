"""nn.utils.stateless.functional_call: the older home of dl.func.functional_call."""
from ...func.functional_call import functional_call  # noqa: F401

__all__ = ["functional_call"]
