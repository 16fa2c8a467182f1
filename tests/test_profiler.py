"""dl.profiler / dl.autograd.profiler: ops, backward nodes and labelled ranges are timed while a
profiler is open, and nothing stays wrapped after it closes."""
import json

import numpy as np
import pytest

import dlcore as dl
from dlcore.autograd import engine, function


def _rows(prof):
    return {r.key: r for r in prof.key_averages()}


def test_ops_and_backward_nodes_are_counted():
    x = dl.randn(2, 3, requires_grad=True)
    y = dl.rand(2, 3, requires_grad=True)
    z = dl.ones(2, 3, requires_grad=True)
    with dl.autograd.profiler.profile() as prof:
        for _ in range(7):
            z = (z / x) * y
        z.sum().backward()
    rows = _rows(prof)
    assert rows["dl::div"].count == 7 and rows["dl::mul"].count == 7
    assert rows["dl::sum"].count == 1
    assert rows["MulBackward0"].count == 7 and rows["DivBackward0"].count == 7
    for r in rows.values():
        assert 0 <= r.self_cpu_time_total <= r.cpu_time_total + 1e-6
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=3)
    assert "Self CPU time total" in table and len(table.splitlines()) == 3 + 3 + 2


def test_no_grad_fast_paths_are_seen_and_entry_points_restored():
    apply_before = function.Function.__dict__["apply"]
    a, b = dl.rand(4, 4), dl.rand(4, 4)
    with dl.profiler.profile(activities=[dl.profiler.ProfilerActivity.CPU],
                             record_shapes=True) as prof:
        for _ in range(3):
            c = a * b + a
    assert function.Function.__dict__["apply"] is apply_before
    assert engine.profile_hook[0] is None
    np.testing.assert_allclose(c.numpy(), a.numpy() * b.numpy() + a.numpy(), rtol=1e-6)
    rows = {(r.key, tuple(map(tuple, r.input_shapes))): r
            for r in prof.key_averages(group_by_input_shape=True)}
    assert rows[("dl::mul", ((4, 4), (4, 4)))].count == 3
    assert rows[("dl::add", ((4, 4), (4, 4)))].count == 3


def test_record_function_nests_the_ops_inside_it():
    x = dl.rand(8)
    with dl.profiler.profile() as prof:
        with dl.profiler.record_function("my_block"):
            for _ in range(4):
                x = x.exp()
        x.sin()
    ev = [e for e in prof.function_events if e.name == "my_block"]
    assert len(ev) == 1
    kids = [c.name for c in ev[0].cpu_children]
    assert kids == ["dl::exp"] * 4
    assert ev[0].self_cpu_time_total <= ev[0].cpu_time_total
    assert _rows(prof)["dl::sin"].count == 1


def test_record_function_as_decorator_outside_a_profiler_is_harmless():
    @dl.autograd.profiler.record_function("f")
    def f(t):
        return t * 2
    assert f(dl.ones(2)).tolist() == [2, 2]


def test_bad_sort_key_and_reading_an_open_profiler_raise():
    with dl.profiler.profile() as prof:
        dl.ones(2).exp()
        with pytest.raises(RuntimeError, match="still open"):
            prof.key_averages()
    with pytest.raises(ValueError, match="sort_by"):
        prof.key_averages().table(sort_by="nope")


def test_chrome_trace_is_json(tmp_path):
    with dl.profiler.profile() as prof:
        dl.ones(3).exp().sum()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    names = [e["name"] for e in json.loads(path.read_text())["traceEvents"]]
    assert "dl::exp" in names and "dl::sum" in names
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".trace-")]


def test_schedule_records_the_active_steps(tmp_path):
    seen = []
    sched = dl.profiler.schedule(wait=1, warmup=1, active=2, repeat=1)
    with dl.profiler.profile(schedule=sched, on_trace_ready=lambda p: seen.append(
            _rows(p)["dl::exp"].count)) as prof:
        for _ in range(6):
            dl.ones(2).exp()
            prof.step()
    assert seen == [2]


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("kw", [dict(wait=1, warmup=1, active=2, repeat=1),
                                dict(wait=0, warmup=0, active=1), dict(wait=2, warmup=1, active=3,
                                                                       repeat=2, skip_first=3)])
def test_schedule_matches_torchs(kw):
    ours, theirs = dl.profiler.schedule(**kw), torch.profiler.schedule(**kw)
    assert [ours(i).name for i in range(30)] == [theirs(i).name for i in range(30)]
