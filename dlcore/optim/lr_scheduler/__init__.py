"""torch.optim.lr_scheduler's schedules: the base class and the per-epoch/per-step schedules in
schedules.py, warm restarts and chains in restarts.py, the cyclical policy in cyclic.py."""
from .cyclic import *  # noqa: F401,F403
from .cyclic import __all__ as _cyclic_all
from .restarts import *  # noqa: F401,F403
from .restarts import __all__ as _restarts_all
from .schedules import *  # noqa: F401,F403
from .schedules import __all__ as _schedules_all

__all__ = _schedules_all + _restarts_all + _cyclic_all
