"""What is being written right now (a hidden partial result, a job's work folder), counted across threads.

A server asked to stop at once (Ctrl-C) uses :func:`busy` to tell whether stopping on the spot would leave such a
file behind; if so it stops the slower way, letting each writer's clean-up run first.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

_lock = threading.Lock()
_open = 0


@contextlib.contextmanager
def writing() -> Iterator[None]:
    """Count the enclosed block as "writing a file that must not be left behind"."""
    global _open
    with _lock:
        _open += 1
    try:
        yield
    finally:
        with _lock:
            _open -= 1


def busy() -> bool:
    """True while any :func:`writing` block is open in this process."""
    return _open > 0
