"""Runs loaders on files for tests/test_hostile_files.py, one request per stdin line
("loader<TAB>path"), one JSON answer per stdout line.

It runs in its own process under an address-space limit (RLIMIT_AS: what it has mapped after
importing dlcore plus DLCORE_HOSTILE_AS_MB), so a loader that regresses into allocating without
bound fails with MemoryError instead of taking the machine down; the parent kills it on a hang.
For each load it reports the exception (type, message), the wall time, and the growth of the
peak RSS over the RSS before the load (the kernel's peak is reset first through
/proc/self/clear_refs, so each load is measured on its own).
"""
import gc
import json
import os
import resource
import sys
import time
import traceback


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _loaders():
    import dlcore as dl
    from dlcore import weights as W
    from dlcore.data.idx import read_idx

    def gguf(p):
        f = W.load_gguf(p)
        return f.metadata, f.state_dict()

    return {
        "dl.load": dl.load,
        "dl.io.read_metadata": dl.io.read_metadata,
        "weights.load_file": W.load_file,
        "load_safetensors": W.load_safetensors,
        "load_torch": W.load_torch,
        "load_gguf": gguf,
        "read_idx": read_idx,
    }


def main():
    loaders = _loaders()
    if sys.argv[1:] == ["--list"]:
        print(json.dumps(sorted(loaders)))
        return
    extra = int(os.environ.get("DLCORE_HOSTILE_AS_MB", "1024")) << 20
    mapped = _status_kb("VmSize") << 10
    resource.setrlimit(resource.RLIMIT_AS, (mapped + extra, mapped + extra))
    can_reset = _reset_peak()
    print(json.dumps({"ready": True, "peak_reset": can_reset}), flush=True)
    for line in sys.stdin:
        name, path = line.rstrip("\n").split("\t", 1)
        gc.collect(0)  # a full collection costs ~20 ms with dlcore imported
        before = _status_kb("VmRSS")
        out_reset = _reset_peak()
        t0 = time.perf_counter()
        out = {"loader": name, "path": path, "ok": True, "peak_reset": out_reset}
        try:
            result = loaders[name](path)
            del result
        except BaseException as e:  # report everything, the parent judges
            out.update(ok=False, type=type(e).__name__,
                       mro=[c.__name__ for c in type(e).__mro__],
                       message=str(e)[:2000],
                       where=traceback.format_exc(limit=-3)[-1500:])
        out["seconds"] = time.perf_counter() - t0
        out["rss_growth_mb"] = (_status_kb("VmHWM") - before) / 1024.0
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
