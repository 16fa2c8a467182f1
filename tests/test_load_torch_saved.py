"""dl.load of files torch.save wrote (what `torch.load` does in a script run on dlcore): read by
dl.weights' restricted unpickler, which runs no code from the file; state_dicts load into the
twin dlcore model and a full checkpoint (epoch, model, optimizer) resumes training as torch."""
import pickle

import numpy as np
import pytest

import dlcore as dl


def test_state_dict_and_checkpoint_resume_like_torch(torch, tmp_path):
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    topt = torch.optim.Adam(tm.parameters(), lr=0.01)
    x = torch.randn(5, 3)
    tm(x).pow(2).sum().backward()
    topt.step()
    torch.save(tm.state_dict(), tmp_path / "sd.pt")
    torch.save({"epoch": 3, "model": tm.state_dict(), "optimizer": topt.state_dict(),
                "loss": 0.25, "shared": [x, x]}, tmp_path / "ck.pt")

    sd = dl.load(tmp_path / "sd.pt")
    assert list(sd) == list(tm.state_dict())
    assert all(isinstance(v, dl.Tensor) for v in sd.values())
    arrays = dl.load(tmp_path / "sd.pt", as_array=True)
    assert all(isinstance(v, np.ndarray) for v in arrays.values())

    ck = dl.load(str(tmp_path / "ck.pt"), map_location="cpu")
    assert ck["epoch"] == 3 and ck["loss"] == 0.25
    assert ck["shared"][0] is ck["shared"][1]  # one storage stays one tensor
    dm = dl.nn.Sequential(dl.nn.Linear(3, 4), dl.nn.Tanh(), dl.nn.Linear(4, 2))
    dm.load_state_dict(ck["model"])
    dopt = dl.optim.Adam(dm.parameters(), lr=0.01)
    dopt.load_state_dict(ck["optimizer"])
    for opt, m, xx in ((topt, tm, x), (dopt, dm, dl.tensor(x.numpy()))):
        opt.zero_grad()
        m(xx).pow(2).sum().backward()
        opt.step()
    for (k, a), b in zip(tm.state_dict().items(), dm.state_dict().values()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-7, err_msg=k)


class _Evil:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned",))


def test_code_in_a_torch_file_is_refused(torch, tmp_path):
    p = tmp_path / "evil.pt"
    torch.save({"x": torch.ones(2), "evil": _Evil()}, p)
    with pytest.raises(pickle.UnpicklingError, match="system"):
        dl.load(p)
