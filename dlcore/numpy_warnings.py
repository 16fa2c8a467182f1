"""NumPy's floating-point RuntimeWarnings stay inside dlcore.

Many ops compute with NumPy, which warns on 1/0, log(0), sqrt(-1), overflow and the like.
torch returns inf/nan there without a word, so a script on dlcore would print warnings it does
not print on torch.  A filter on the warning's module (dlcore's own files) and NumPy's message
silences exactly those: the user's own NumPy code still warns, and wrapping every op in
np.errstate would cost microseconds per call where a filter costs nothing until a warning fires.
A user filter installed later (e.g. simplefilter("error")) still takes precedence."""
import warnings

_NUMPY_FP_MESSAGES = (r"(divide by zero|invalid value|overflow|underflow) encountered"
                      r"|Mean of empty slice|Degrees of freedom <= 0")


def install():
    warnings.filterwarnings("ignore", message=_NUMPY_FP_MESSAGES, category=RuntimeWarning,
                            module=r"dlcore(\.|$)")
