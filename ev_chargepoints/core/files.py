"""Files written whole: a temporary file beside the target, moved over it at the end, so
readers see the old file or the new one, never half of one.

``tempfile.mkstemp`` makes its file readable by its owner only (0600); an export, a
conformance report or a download moved into place from it would stay so, and a
colleague reading a shared folder (or a web server publishing reports) could not open
it. The temporary file gets the permissions any new file gets here (0666 less the
umask) before it is written.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


def current_umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux);
    elsewhere set and restored at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def written_whole(path, mode: str = "wb", **open_args) -> Iterator[IO]:
    """An open temporary file beside ``path`` (``mode`` and ``open_args`` as for
    ``open``); when the block ends without an error it is flushed to disk and moved over
    ``path``, otherwise removed and ``path`` left as it was."""
    path = Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        if os.name == "posix":
            os.fchmod(handle, 0o666 & ~current_umask())
        with os.fdopen(handle, mode, **open_args) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
