"""The default process group: one MPI job, its ranks, and what happens when one of them fails.

World size and rank come from the MPI launcher (`mpirun -np 2 python train.py`); a script run
without a launcher is a world of one.  MPI itself is initialised once per process (mpi4py does
it on first import) and finalised at exit; `destroy_process_group` only drops dlcore's group,
so a later `init_process_group` in the same process works.
"""
import datetime
import os
import signal
import sys
import traceback

from ._mpi import mpi

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "is_available",
           "is_mpi_available", "get_rank", "get_world_size", "get_backend", "is_main_process",
           "ProcessGroup", "default_pg_timeout", "GroupMember"]

# the same default as torch.distributed: long enough for a slow first step or a checkpoint
default_pg_timeout = datetime.timedelta(minutes=30)


class ProcessGroup:
    """Ranks 0..size-1 of an MPI communicator that dlcore owns (a duplicate of the world, so
    user code calling mpi4py directly on COMM_WORLD can never interleave with our messages)."""

    def __init__(self, comm, timeout):
        self.comm = comm
        self._rank = comm.Get_rank()
        self._size = comm.Get_size()
        self.timeout = timeout

    def rank(self):
        return self._rank

    def size(self):
        return self._size

    def dup(self):
        """A private communicator for one user (a DDP reducer, SyncBatchNorm): messages on it
        can never be matched with collectives issued on the group itself."""
        return ProcessGroup(self.comm.Dup(), self.timeout)

    def free(self):
        if self.comm is not None:
            self.comm.Free()
            self.comm = None

    def __repr__(self):
        return "ProcessGroup(backend='mpi', rank=%d, size=%d)" % (self._rank, self._size)


class GroupMember:
    WORLD = None  # "the default group", as in torch.distributed.GroupMember.WORLD


_state = {"pg": None, "hooks_installed": False}


def is_available():
    """True where the MPI backend can be used (mpi4py imports)."""
    try:
        mpi()
    except ImportError:
        return False
    return True


is_mpi_available = is_available


def is_initialized():
    return _state["pg"] is not None


def _timeout_seconds(timeout):
    if timeout is None:
        timeout = default_pg_timeout
    if isinstance(timeout, datetime.timedelta):
        seconds = timeout.total_seconds()
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        seconds = float(timeout)
    else:
        raise TypeError("init_process_group: timeout must be a datetime.timedelta or a number "
                        "of seconds, got %r" % (timeout,))
    if not seconds > 0:
        raise ValueError("init_process_group: timeout must be positive, got %r" % (timeout,))
    return seconds


def init_process_group(backend="mpi", init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name=""):
    """Join the job the MPI launcher started.  Only backend="mpi" exists: rank and world size
    are MPI's (pass world_size/rank only to check them).  `timeout` bounds every wait on a
    collective (default 30 minutes): a rank that stops taking part makes the others raise
    instead of hanging."""
    if backend is None:
        backend = "mpi"
    if not isinstance(backend, str) or backend.lower() != "mpi":
        raise ValueError("init_process_group: dlcore supports backend='mpi' only, got %r "
                         "(launch with mpirun; gloo and nccl are torch's own transports)"
                         % (backend,))
    if init_method not in (None, "env://") or store is not None:
        raise ValueError("init_process_group: with backend='mpi' the launcher (mpirun) says "
                         "who the ranks are; init_method and store must be left unset, got "
                         "init_method=%r, store=%r" % (init_method, store))
    if is_initialized():
        raise RuntimeError("init_process_group: trying to initialize the default process group "
                           "twice (call destroy_process_group() first)")
    seconds = _timeout_seconds(timeout)
    MPI = mpi()
    world = MPI.COMM_WORLD
    for name, given, actual in (("world_size", world_size, world.Get_size()),
                                ("rank", rank, world.Get_rank())):
        if given is not None and int(given) != -1 and int(given) != actual:
            raise ValueError("init_process_group: %s=%d was given but the MPI launcher started "
                             "this process with %s=%d" % (name, int(given), name, actual))
    pg = ProcessGroup(world.Dup(), seconds)
    _state["pg"] = pg
    if pg.size() > 1:
        _install_failure_handlers()
    return None


def destroy_process_group(group=None):
    """Drop the default group (MPI stays initialised until the process exits)."""
    if group is not None and group is not _state["pg"]:
        raise ValueError("destroy_process_group: only the default group exists")
    pg = _state["pg"]
    _state["pg"] = None
    if pg is not None:
        pg.free()


def _default_group(who="this function"):
    pg = _state["pg"]
    if pg is None:
        raise RuntimeError("%s: the default process group has not been initialized; call "
                           "dlcore.distributed.init_process_group() first (under mpirun)" % who)
    return pg


def _default_or_none():
    return _state["pg"]


def _group(group, who):
    if group is None or group is GroupMember.WORLD:
        return _default_group(who)
    if isinstance(group, ProcessGroup):
        return group
    raise TypeError("%s: group must be a ProcessGroup or None, got %s"
                    % (who, type(group).__name__))


def get_rank(group=None):
    return _group(group, "get_rank").rank()


def get_world_size(group=None):
    return _group(group, "get_world_size").size()


def get_backend(group=None):
    _group(group, "get_backend")
    return "mpi"


def is_main_process():
    """True on rank 0, and in a process that is not part of a job: where progress bars, logs
    and checkpoints are written once."""
    pg = _state["pg"]
    return pg is None or pg.rank() == 0


# ---- failure: one rank's error must end the job, never leave the others waiting -------------

def _install_failure_handlers():
    """An uncaught exception on one rank aborts the whole MPI job (mpirun then stops every
    rank) instead of leaving the others blocked in a collective; the launcher's stop signal
    says why on the ranks it ends."""
    if _state["hooks_installed"]:
        return
    _state["hooks_installed"] = True
    previous_hook = sys.excepthook

    def abort_on_uncaught(exc_type, exc, tb):
        try:
            previous_hook(exc_type, exc, tb)
        except Exception:  # the user's hook failing must not stop the abort
            traceback.print_exception(exc_type, exc, tb)
        rank = mpi().COMM_WORLD.Get_rank()
        sys.stderr.write("dlcore.distributed: rank %d failed with %s; aborting the MPI job so "
                         "the other ranks stop instead of waiting for it\n"
                         % (rank, exc_type.__name__))
        sys.stderr.flush()
        sys.stdout.flush()
        mpi().COMM_WORLD.Abort(1)

    sys.excepthook = abort_on_uncaught

    if hasattr(signal, "SIGTERM") and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL,
                                                                              None):
        def stopped_by_launcher(signum, frame):
            rank = mpi().COMM_WORLD.Get_rank()
            os.write(2, ("dlcore.distributed: rank %d stopped by the launcher (signal %d): "
                         "another rank of the job failed or the job was cancelled\n"
                         % (rank, signum)).encode())
            os._exit(128 + signum)

        signal.signal(signal.SIGTERM, stopped_by_launcher)
