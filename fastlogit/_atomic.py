"""Atomic file writes: the one helper every fastlogit output file goes through.

:func:`atomic_write` writes into a temporary file next to the target, flushes and ``fsync``-s
it, renames it over the target (``os.replace``) and ``fsync``-s the directory, so that a
crash, a kill or an exception leaves either the old file or the complete new one, never a
part of one.  Its contract:

- **mode**: a new file gets ``0o666 & ~umask`` (0644 under umask 022), as a plain
  ``open(path, "w")`` would; replacing an existing file keeps that file's permission bits.
- **symlinks**: writing to a symbolic link writes through to its final target (as ``cp``
  does); the link itself stays.
- **devices and FIFOs** (``/dev/null``, ``/dev/stdout``, a named pipe) are written in place:
  they cannot be replaced by a rename, and atomicity does not apply to them.
- **temporary files** are named ``.<name>.fastlogit-tmp.<host>.<pid>.<8 hex>`` in the target's
  directory.  One left behind by a killed process (its pid no longer running on this host) is
  removed by the next write to the same target; those of live processes are never touched.

The CSR cache writer (:mod:`fastlogit.io.cache`), which renames whole directories, names its
temporary directories with :func:`temp_path` and clears stale ones with
:func:`remove_stale` in the same way.
"""
import contextlib
import errno
import os
import re
import socket
import stat
import uuid

__all__ = ["atomic_write", "check_writable", "fsync_dir", "resolve_target", "stale_temp_files",
           "temp_path", "remove_stale"]

_TMP_MARK = ".fastlogit-tmp."
#: At most this many characters of the target's name go into a temporary file's name.
_NAME_KEEP = 100


def fsync_dir(path):
    """Flush a directory entry (e.g. after ``os.replace``) so a rename survives a crash."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _special(target):
    """True for an existing target that is not a regular file or directory (a device, a
    FIFO, a socket): it cannot be replaced by a rename, only written."""
    try:
        st = os.stat(target)
    except OSError:
        return False
    return not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode))


def resolve_target(path):
    """The file a write to ``path`` lands in: ``path`` itself, or the final target of a
    (chain of) symbolic link(s), as an absolute path."""
    path = os.path.abspath(os.fspath(path))
    return os.path.realpath(path) if os.path.islink(path) else path


def _host():
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:64] or "host"


def _prefix(target):
    return "." + os.path.basename(target)[:_NAME_KEEP] + _TMP_MARK


def temp_path(target):
    """A fresh temporary name next to ``target`` (file or directory), of this module's naming:
    :func:`stale_temp_files` finds it once its process is gone."""
    return os.path.join(os.path.dirname(target),
                        f"{_prefix(target)}{_host()}.{os.getpid()}.{uuid.uuid4().hex[:8]}")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, another user's
        return True
    return True


def stale_temp_files(path):
    """Temporary files of earlier writes to ``path`` whose writer is no longer running.

    Only files of this module's naming, written on this host by a process id that no longer
    exists, are listed (an empty list on non-POSIX systems, where that cannot be told).
    """
    if os.name != "posix":  # pragma: no cover - os.kill(pid, 0) would terminate on Windows
        return []
    target = resolve_target(path)
    directory, prefix = os.path.dirname(target), _prefix(target)
    pattern = re.compile(re.escape(prefix + _host()) + r"\.(\d+)\.[0-9a-f]{8}\Z")
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    stale = []
    for name in names:
        m = pattern.match(name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            stale.append(os.path.join(directory, name))
    return sorted(stale)


def remove_stale(path):
    """Remove what :func:`stale_temp_files` lists for ``path`` (files or whole directories);
    errors (e.g. a concurrent removal) are ignored."""
    import shutil

    for stale in stale_temp_files(path):
        if os.path.isdir(stale) and not os.path.islink(stale):
            shutil.rmtree(stale, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(stale)


def check_writable(path):
    """Raise ``OSError`` (naming the file or directory) unless :func:`atomic_write` can write
    ``path``: its directory exists and accepts a new file, and ``path`` is not a directory.

    Meant to be called before long work whose result goes to ``path``.
    """
    target = resolve_target(path)
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, "directory does not exist", directory)
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, "is a directory", target)
    if _special(target):
        if not os.access(target, os.W_OK):
            raise PermissionError(errno.EACCES, "not writable", target)
        return
    probe = temp_path(target)
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:  # name the directory, not the probe's temporary name
        raise type(exc)(exc.errno, exc.strerror, directory) from None
    os.close(fd)
    os.unlink(probe)


@contextlib.contextmanager
def atomic_write(path, mode="wb", encoding=None):
    """Context manager yielding a file object whose content replaces ``path`` on success.

    Parameters
    ----------
    path : str or os.PathLike
        The target.  A symbolic link is written through to its target.
    mode : {"wb", "w"}
        Binary or text.
    encoding : str or None
        Text encoding for ``mode="w"``.

    On normal exit of the ``with`` block the data is flushed, ``fsync``-ed and renamed over
    the target; on an exception (or KeyboardInterrupt) the temporary file is removed, the
    target is untouched, and the exception propagates.  Stale temporary files of earlier,
    killed writes to the same target are removed first (see the module docstring).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    target = resolve_target(path)
    directory = os.path.dirname(target)
    if _special(target):  # /dev/null, a FIFO, a terminal: written in place, nothing to rename
        with open(target, mode, encoding=encoding) as fh:
            yield fh
        return
    remove_stale(target)
    try:
        keep_mode = stat.S_IMODE(os.stat(target).st_mode) & 0o777
    except FileNotFoundError:
        keep_mode = None
    tmp = temp_path(target)
    # 0o666 through the umask, exactly as open() creates a file
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        if keep_mode is not None:
            os.fchmod(fd, keep_mode)
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            fd = None
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        if fd is not None:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)
