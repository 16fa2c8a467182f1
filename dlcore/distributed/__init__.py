"""dl.distributed: processes training together over MPI, in torch.distributed's shape.

    # mpirun -np 2 python train.py
    import dlcore.distributed as dist
    dist.init_process_group(backend="mpi")
    dist.all_reduce(t, op=dist.ReduceOp.AVG)

MPI (Open MPI or any other) and mpi4py come with `pip install "dlcore[distributed]"`; nothing
here imports mpi4py until a process group is made, so `import dlcore` never starts MPI.
"""
from .process_group import (init_process_group, destroy_process_group, is_initialized,  # noqa: F401
                            is_available, is_mpi_available, get_rank, get_world_size,
                            get_backend, is_main_process, ProcessGroup, GroupMember,
                            default_pg_timeout)
from .collectives import (ReduceOp, all_reduce, broadcast, all_gather,  # noqa: F401
                          all_gather_into_tensor, reduce_scatter, reduce_scatter_tensor,
                          send, recv, isend, irecv, barrier, mean_over_ranks)
from .work import Work, DistributedTimeoutError  # noqa: F401
