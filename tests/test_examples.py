"""The roadmap examples in python/ run in quick mode and reach what they state."""
import inspect
import os
import math

from _examples import check_row, load_example


def test_01_perceptron():
    row = load_example("01_perceptron").main(quick=True)
    check_row(row, "01")
    assert row["and_converged"] and row["or_converged"]
    assert not row["xor_converged"] and min(row["xor_errors"]) >= 1
    assert row["iris_setosa_converged"] and row["iris_setosa_accuracy"] == 1.0
    assert row["value"] == 1.0  # the MLP solves XOR


def test_02_mlp_iris():
    row = load_example("02_mlp_iris").main(quick=True)
    check_row(row, "02")
    assert row["value"] >= 0.96
    assert row["train_seconds"] > 0


def test_03_backprop(tmp_path):
    main = load_example("03_backprop_gradient_descent").main
    assert "plot_path" in inspect.signature(main).parameters
    row = main(quick=True, plot_path=str(tmp_path / "curves.png"))
    check_row(row, "03")
    assert row["value"] < 1e-10  # hand-written backprop == autograd
    lr = row["lr_final_loss"]
    assert lr[1.0] < lr[0.1] < lr[0.01] < lr[0.001]  # larger (sane) steps learn faster
    assert not math.isfinite(lr[5.0]) or lr[5.0] > row["lr_first_loss"][0.001]  # too large
    bs = row["batch_final_loss"]
    sizes = sorted(bs)
    assert bs[sizes[0]] < bs[sizes[-1]]  # more steps per epoch: lower loss after 3 epochs
    try:
        import matplotlib  # noqa: F401
        assert row["plot"] and (tmp_path / "curves.png").stat().st_size > 1000
    except ImportError:
        assert row["plot"] is None


def test_example_helper_command_line_threads_and_figures(capsys, tmp_path):
    """python/common.py: main's keyword arguments become options, the result line is printed,
    one_thread restores the thread count, figures land in --out."""
    import dlcore as dl
    from dlcore.examples import common
    seen = {}

    @common.one_thread
    def main(quick=False, out_dir=".", full=False, data=None):
        seen.update(quick=quick, out_dir=out_dir, full=full, data=data,
                    threads=dl.get_num_threads())
        return {"chapter": "00", "model": "m", "data": "d", "metric": "acc", "value": 0.5}

    with dl.num_threads(2):
        row = common.run(main, ["--quick", "--out", str(tmp_path), "--data", "x.txt"])
        assert dl.get_num_threads() == 2
    assert seen == {"quick": True, "out_dir": str(tmp_path), "full": False, "data": "x.txt",
                    "threads": 1}
    assert row["value"] == 0.5
    assert capsys.readouterr().out.strip().endswith("result: 00 | m | d | acc = 0.5")
    plt = common.pyplot()
    if plt is not None:
        fig, ax = plt.subplots()
        path = common.save_figure(fig, str(tmp_path / "figs"), "f.png")
        assert path == str(tmp_path / "figs" / "f.png") and os.path.getsize(path) > 100


def test_01_activations(tmp_path):
    """Autograd's derivatives equal the formulas; from a small start every neuron separates the
    blobs; from a confidently wrong start sigmoid and tanh are saturated (tiny first gradient,
    no progress), ReLU is dead on the positive blob, leaky ReLU and the perceptron rule recover."""
    row = load_example("01_activations").main(quick=True, out_dir=str(tmp_path), steps=300)  # full run's
    check_row(row, "01")
    assert row["autograd_max_error"] < 1e-5
    small, wrong = row["results"]["small"], row["results"]["confidently wrong"]
    for name in ("step", "sigmoid", "tanh", "ReLU", "leaky ReLU"):
        assert small[name]["accuracy"] == 1.0, name
    assert small["step"]["converged"] and wrong["step"]["converged"]
    for name in ("sigmoid", "tanh"):
        assert wrong[name]["accuracy"] < 0.1 and wrong[name]["first_grad"] < 0.01, name
        assert small[name]["first_grad"] > 20 * wrong[name]["first_grad"]
    assert wrong["ReLU"]["accuracy"] == 0.5 and wrong["ReLU"]["first_grad"] > 1.0
    assert wrong["leaky ReLU"]["accuracy"] == 1.0
    assert row["value"] == " | ".join("%.3f" % wrong[k]["accuracy"]
                                      for k in ("sigmoid", "tanh", "ReLU", "leaky ReLU"))


def test_03_losses(tmp_path):
    """Squared error's gradient vanishes on a confident mistake, cross-entropy's does not; from a
    confidently wrong network cross-entropy recovers and squared error does not (quick: 2 epochs)."""
    row = load_example("03_losses").main(quick=True, out_dir=str(tmp_path))
    check_row(row, "03")
    assert row["autograd_max_error"] < 1e-5
    g = row["grad_at_minus6"]
    assert abs(g["squared error"]) < 0.01 and g["cross-entropy"] < -0.99
    wrong, rand = row["curves"]["confidently wrong"], row["curves"]["random"]
    assert wrong["before"] < 0.05
    assert wrong["cross-entropy"][-1] > 0.9 and wrong["squared error"][-1] < 0.2
    assert rand["cross-entropy"][0] > rand["squared error"][0]
    assert rand["cross-entropy"][-1] > 0.9
