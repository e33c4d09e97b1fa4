"""Durable file replacement shared by model files and data caches."""
import os

__all__ = ["fsync_dir"]


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
