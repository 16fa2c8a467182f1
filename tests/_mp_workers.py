"""Functions run in child processes by tests/test_multiprocessing.py (module level, so spawned
children can unpickle them)."""


def add_rank(rank, t, value):
    t._data[rank] += value * (rank + 1)  # writes through the shared mapping


def hogwild_train(rank, model, x, y, steps):
    import dlcore as dl
    dl.set_num_threads(1)
    dl.manual_seed(rank)
    opt = dl.optim.SGD(model.parameters(), lr=0.05)
    n = len(x) // 2
    xs, ys = dl.tensor(x[rank * n:(rank + 1) * n]), dl.tensor(y[rank * n:(rank + 1) * n])
    for _ in range(steps):
        opt.zero_grad()
        loss = dl.nn.functional.mse_loss(model(xs), ys)
        loss.backward()
        opt.step()


def fail(rank):
    if rank == 1:
        raise ValueError("child %d failed on purpose" % rank)

