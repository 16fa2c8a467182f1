"""Text corpora: Shakespeare (bundled) and the VADER movie-review ratings (fetched on request).

load_shakespeare() reads a bundled public-domain text.  The VADER ground truth is not bundled and
the library never downloads it by itself: `dlcore data fetch vader` (or fetch_vader()) fills a
local cache with `pip download`, and load_vader_movie_reviews() reads that cache or a path you
give.  Sources and licences: dlcore/data/LICENSES.md.
"""
import hashlib
import io
import lzma
import os
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

from .datasets import Bunch, data_file

__all__ = ["load_shakespeare", "load_vader_movie_reviews", "fetch_vader", "data_home",
           "DatasetNotFoundError"]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset that must be fetched first (the message says how) is not on this machine."""


def data_home(data_home=None):
    """The cache folder for fetched datasets: `data_home`, else $DLCORE_DATA_DIR, else
    ~/.cache/dlcore."""
    if data_home is None:
        data_home = os.environ.get("DLCORE_DATA_DIR") or os.path.join(
            os.path.expanduser("~"), ".cache", "dlcore")
    return os.path.abspath(os.path.expanduser(str(data_home)))


# ---- Shakespeare -------------------------------------------------------------------------------
_SHAKESPEARE_FILE = "shakespeare_hamlet_macbeth.txt.xz"
_SHAKESPEARE_PLAYS = ("Hamlet", "Macbeth")


def load_shakespeare():
    """About 277 KB of Shakespeare: Hamlet then Macbeth (Globe-edition texts via Project
    Gutenberg, as packaged in the `shakespeare` 0.6 source archive), ASCII, '\\n' line ends.

    Returns a Bunch with text (str), plays (titles in order), DESCR and filename.
    """
    with lzma.open(data_file(_SHAKESPEARE_FILE), "rb") as f:
        text = f.read().decode("ascii")
    return Bunch(text=text, plays=list(_SHAKESPEARE_PLAYS), DESCR=_SHAKESPEARE_DESCR,
                 filename=data_file(_SHAKESPEARE_FILE))


# ---- VADER movie-review snippets ---------------------------------------------------------------
VADER_VERSION = "3.3.2"
# sha256 of PyPI's vaderSentiment-3.3.2.tar.gz (the wheel lacks additional_resources/)
_VADER_SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
_VADER_INNER = "additional_resources/hutto_ICWSM_2014.tar.gz"
_VADER_MEMBER = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
_VADER_FILE = "movieReviewSnippets_GroundTruth.txt"
FETCH_VADER_HINT = "dlcore data fetch vader"


def _vader_dir(home):
    return os.path.join(data_home(home), "vader")


def _read_member(tar, name_endswith):
    """Bytes of the one regular-file member whose name ends with `name_endswith` (nothing is
    extracted to disk, so member paths never matter)."""
    for m in tar.getmembers():
        if m.isfile() and m.name.endswith(name_endswith):
            f = tar.extractfile(m)
            return f.read()
    raise ValueError("archive has no member ending in %r" % name_endswith)


def _snippets_from_archive(path):
    """The ground-truth bytes from the vaderSentiment sdist or from hutto_ICWSM_2014.tar.gz."""
    with tarfile.open(path, "r:*") as tar:
        names = [m.name for m in tar.getmembers()]
        if any(n.endswith(_VADER_MEMBER) for n in names):
            return _read_member(tar, _VADER_MEMBER)
        inner = _read_member(tar, _VADER_INNER)
    with tarfile.open(fileobj=io.BytesIO(inner), mode="r:*") as tar:
        return _read_member(tar, _VADER_MEMBER)


def fetch_vader(data_home=None, sdist=None, quiet=False):
    """Fill the cache with the VADER movie-review ground truth and return the file's path.

    Runs `python -m pip download --no-deps --no-binary :all: vaderSentiment==3.3.2` into a
    temporary folder (or uses the sdist file `sdist` you already have), checks its sha256, and
    writes movieReviewSnippets_GroundTruth.txt and the MIT licence into <data_home>/vader/.
    """
    out_dir = _vader_dir(data_home)
    with tempfile.TemporaryDirectory() as tmp:
        if sdist is None:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   "--disable-pip-version-check", "-d", tmp,
                   "vaderSentiment==%s" % VADER_VERSION]
            if not quiet:
                print("running: " + " ".join(cmd))
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if proc.returncode != 0:
                tail = proc.stdout.decode("utf-8", "replace").strip().splitlines()[-5:]
                raise RuntimeError("fetch_vader: pip download failed (exit %d):\n  %s"
                                   % (proc.returncode, "\n  ".join(tail)))
            found = [f for f in os.listdir(tmp) if f.endswith(".tar.gz")]
            if len(found) != 1:
                raise RuntimeError("fetch_vader: expected one .tar.gz from pip download, got %s"
                                   % sorted(os.listdir(tmp)))
            sdist = os.path.join(tmp, found[0])
        with open(sdist, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != _VADER_SDIST_SHA256:
            raise RuntimeError("fetch_vader: %s has sha256 %s, expected %s (not the "
                               "vaderSentiment %s source archive)"
                               % (sdist, digest, _VADER_SDIST_SHA256, VADER_VERSION))
        raw = _snippets_from_archive(sdist)
        with tarfile.open(sdist, "r:*") as tar:
            licence = _read_member(tar, "/LICENSE.txt")
    _parse_vader(raw, sdist)  # refuse to cache something unreadable
    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, _VADER_FILE)
    with open(target + ".part", "wb") as f:
        f.write(raw)
    os.replace(target + ".part", target)
    with open(os.path.join(out_dir, "LICENSE.txt"), "wb") as f:
        f.write(licence)
    if not quiet:
        print("saved %s" % target)
    return target


def _parse_vader(raw, where):
    text = raw.decode("utf-8")
    ids, ratings, texts = [], [], []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError("%s: line %d: expected id<TAB>rating<TAB>text, got %r"
                             % (where, lineno, line[:80]))
        ids.append(int(parts[0]))
        ratings.append(float(parts[1]))
        texts.append(parts[2].strip())
    if not texts:
        raise ValueError("%s: no review snippets found" % where)
    return np.array(ids, dtype=np.int64), np.array(ratings, dtype=np.float64), texts


def load_vader_movie_reviews(path=None, data_home=None):
    """The 10,605 movie-review snippets of Hutto & Gilbert (ICWSM 2014), each with the mean of
    about 20 human ratings on -4 (most negative) .. +4 (most positive).

    `path` may be movieReviewSnippets_GroundTruth.txt, a folder holding it, the vaderSentiment
    3.3.2 source archive or hutto_ICWSM_2014.tar.gz; without it the cache that
    `dlcore data fetch vader` fills (see data_home()) is read.  Nothing is downloaded here.

    Returns a Bunch with text (list of str), rating (n,) float64, id (n,) int64 and DESCR;
    `texts, ratings = load_vader_movie_reviews()` unpacks.
    """
    if path is None:
        path = os.path.join(_vader_dir(data_home), _VADER_FILE)
        if not os.path.exists(path):
            raise DatasetNotFoundError(
                "the VADER movie-review ratings are not in %s; fetch them once with `%s` "
                "(runs pip download of vaderSentiment %s, MIT licence) or pass "
                "path=... to a copy" % (os.path.dirname(path), FETCH_VADER_HINT, VADER_VERSION))
    path = os.path.abspath(os.path.expanduser(str(path)))
    if os.path.isdir(path):
        path = os.path.join(path, _VADER_FILE)
    if not os.path.exists(path):
        raise DatasetNotFoundError("load_vader_movie_reviews: %s does not exist (fetch the data "
                                   "with `%s`)" % (path, FETCH_VADER_HINT))
    if tarfile.is_tarfile(path):
        raw = _snippets_from_archive(path)
    else:
        with open(path, "rb") as f:
            raw = f.read()
    ids, ratings, texts = _parse_vader(raw, path)
    return Bunch(data=texts, target=ratings, text=texts, rating=ratings, id=ids,
                 DESCR=_VADER_DESCR, filename=path)


_SHAKESPEARE_DESCR = """Shakespeare: Hamlet and Macbeth
-------------------------------
The Globe-edition texts (Clark and Wright, 1866) of Hamlet and Macbeth as published by Project
Gutenberg in the public domain, taken from the `shakespeare` 0.6 package's source archive
(shksprdata/texts/hamlet_gut.txt and macbeth_gut.txt, Open Knowledge Foundation, CC BY 2.5),
joined with blank lines.  277,373 characters, 69 distinct."""

_VADER_DESCR = """VADER movie-review snippets (Hutto & Gilbert, ICWSM 2014)
---------------------------------------------------------
10,605 sentence-level snippets from rottentomatoes.com reviews (the Pang & Lee 2005 sentence
polarity data), each rated by about 20 people on -4 .. +4; `rating` is their mean.  From
additional_resources/hutto_ICWSM_2014.tar.gz of the vaderSentiment 3.3.2 source archive (MIT).
Cite: C. J. Hutto and E. Gilbert, "VADER: A Parsimonious Rule-based Model for Sentiment
Analysis of Social Media Text", ICWSM 2014."""
