"""dl.backends.cudnn: torch's flags (benchmark, deterministic, enabled, allow_tf32); there is
no cuDNN here, so they are settings without effect and is_available() is False."""
benchmark = False
deterministic = False
enabled = True
allow_tf32 = True


def is_available():
    return False


def version():
    return None
