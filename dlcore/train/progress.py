"""What the training loop shows while it runs: the one place dl.train writes to the terminal.

verbose=0 prints nothing; 2 prints one line per epoch; 1 or 'auto' shows a tqdm bar per epoch
when stdout is a terminal and tqdm is installed, else one line per epoch (a log file, a
notebook's captured output, CI).  Messages from callbacks (early stopping, checkpoints) go through
log() too.  Under DistributedDataParallel only rank 0 prints.
"""
import sys

from ..distributed import is_main_process

__all__ = ["Progress", "log", "format_logs"]


def log(message):
    """Progress and callback messages: printed once, by rank 0 under DistributedDataParallel."""
    if is_main_process():
        print(message, flush=True)


def _use_bar(verbose):
    if verbose in (0, False, 2):
        return False
    try:
        import tqdm  # noqa: F401  (optional: without it, one line per epoch)
    except ImportError:
        return False
    return bool(getattr(sys.stdout, "isatty", lambda: False)())


def format_logs(logs):
    return " - ".join("%s: %.4f" % (k, v) if isinstance(v, float) and abs(v) >= 1e-3 or v == 0
                      else "%s: %.4g" % (k, v) for k, v in logs.items())


class Progress:
    """A bar (or nothing) during each epoch and a summary when it ends."""

    def __init__(self, verbose, epochs, steps):
        self.epochs, self.steps = epochs, steps
        self.bar_on = _use_bar(verbose) and is_main_process()
        self.lines_on = verbose not in (0, False) and not self.bar_on and is_main_process()
        self.bar = None

    def epoch_begin(self, epoch):
        if self.bar_on:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=self.steps, desc="Epoch %d/%d" % (epoch + 1, self.epochs),
                            unit="batch", file=sys.stdout, leave=True, dynamic_ncols=True)

    def batch_end(self, step, name, running_mean):
        """After batch `step`: the running mean of the first logged value (e.g. the loss)."""
        if self.bar is not None:
            self.bar.update(1)
            if name is not None and (step % 10 == 0 or step + 1 == self.steps):
                self.bar.set_postfix({name: "%.4f" % running_mean})

    def epoch_end(self, epoch, logs, seconds):
        if self.bar is not None:
            self.bar.set_postfix_str(format_logs(logs))
            self.bar.close()
            self.bar = None
        elif self.lines_on:
            log("Epoch %d/%d - %.2fs - %s" % (epoch + 1, self.epochs, seconds, format_logs(logs)))
