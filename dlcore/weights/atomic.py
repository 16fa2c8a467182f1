"""Replacing a file atomically: a crash or an error leaves the old file or the new one, never
half of either.

The bytes go to a temporary file in the destination's directory (a rename is atomic only within
one file system), which is fsync'ed, renamed over the destination, and then the directory is
fsync'ed so the rename itself survives a power cut.

Temporary files are named `.<name>.<pid>.<random>.tmp`.  A process killed mid-write leaves its
file behind; the next write to the same destination removes every such file whose process is
no longer alive (files of live processes, e.g. a concurrent save, are left alone).
"""
import os
import secrets

_SUFFIX = ".tmp"


def _prefix(base):
    return "." + base + "."


def _pid_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # exists but is someone else's, or cannot tell
        return True
    return True


def stale_temp_files(folder, base):
    """Names of temporary files for destination `base` in `folder` left by dead processes."""
    prefix = _prefix(base)
    stale = []
    try:
        entries = os.listdir(folder)
    except OSError:
        return stale
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(_SUFFIX)):
            continue
        middle = entry[len(prefix):-len(_SUFFIX)]
        pid, _, token = middle.partition(".")
        if pid.isdigit() and token and "." not in token and not _pid_alive(int(pid)):
            stale.append(entry)
    return stale


def atomic_write(path, write, caller="atomic_write"):
    """Make `path` the file that write(temp_path) produces, atomically (see module doc).

    `write` gets the path of an empty file it may overwrite; `caller` names the public function
    in error messages.  Stale temporary files of `path` are removed first.
    """
    path = os.fsdecode(os.fspath(path))
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    if not os.path.isdir(folder):
        raise FileNotFoundError("%s: directory %r does not exist" % (caller, folder))
    if os.path.isdir(path):
        raise IsADirectoryError("%s: %r is a directory" % (caller, path))
    for entry in stale_temp_files(folder, base):
        try:
            os.unlink(os.path.join(folder, entry))
        except OSError:
            pass
    try:
        mode = os.stat(path).st_mode & 0o777   # a replaced file keeps its permissions
    except OSError:
        mode = None                             # a new one gets the umask's
    tmp = os.path.join(folder, "%s%d.%s%s" % (_prefix(base), os.getpid(), secrets.token_hex(4),
                                              _SUFFIX))
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (not possible on every platform)
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
