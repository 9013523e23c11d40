"""Fit the process to a finite address-space limit (``ulimit -v``, RLIMIT_AS).

Under such a limit what runs out first is not memory but address space *reserved* and never
used: glibc gives each thread that allocates its own malloc arena (64 MiB reserved each, up to
eight per core), Arrow's default allocator (jemalloc or mimalloc) reserves large regions up
front, and Arrow starts a pool of I/O threads. A sync with its apply workers and Arrow's pools
then fails for lack of address space while its resident memory is small. :func:`fit_address_space`
asks for less when a limit is set: two malloc arenas, Arrow's system allocator, two Arrow I/O
threads. Without a limit it changes nothing (the defaults are faster).
"""

from __future__ import annotations

import logging
import os
import resource
import sys
from collections.abc import MutableMapping

log = logging.getLogger(__name__)

#: glibc's ``mallopt`` parameter for the most malloc arenas (``M_ARENA_MAX`` in malloc.h).
M_ARENA_MAX = -8
#: Malloc arenas and Arrow I/O threads under an address-space limit.
ARENAS = 2
ARROW_IO_THREADS = 2
#: What Arrow reads when it is first imported (set only when the user has not set it).
ARROW_ENV = {
    "ARROW_DEFAULT_MEMORY_POOL": "system",
    "ARROW_IO_THREADS": str(ARROW_IO_THREADS),
}


def address_space_limit() -> int | None:
    """The process's soft RLIMIT_AS in bytes, None when unlimited."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def fit_address_space(
    limit: int | None = None,
    environ: MutableMapping[str, str] | None = None,
) -> bool:
    """Reserve less address space when the process runs under a limit (``limit``: defaults
    to :func:`address_space_limit`); True when it did. Call it first thing, before threads
    start and before Arrow is imported (the CLI's ``main`` does)."""
    limit = address_space_limit() if limit is None else limit
    if limit is None:
        return False
    env = os.environ if environ is None else environ
    for name, value in ARROW_ENV.items():
        env.setdefault(name, value)
    env.setdefault("MALLOC_ARENA_MAX", str(ARENAS))  # for child processes
    _fit_loaded_arrow()
    if not _limit_arenas(ARENAS):
        log.debug("mallopt(M_ARENA_MAX) unavailable: malloc arenas left as they are")
    log.debug(
        "address space limited to %d bytes: %d malloc arenas, Arrow's system allocator",
        limit,
        ARENAS,
    )
    return True


def _limit_arenas(arenas: int) -> bool:
    """``mallopt(M_ARENA_MAX, arenas)`` through the C library the process already has loaded;
    False where there is no ``mallopt`` (not glibc)."""
    import ctypes  # only under a limit

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))


def _fit_loaded_arrow() -> None:
    """The same choices for an Arrow already imported (its environment was read then)."""
    pa = sys.modules.get("pyarrow")
    if pa is None:
        return
    pa.set_memory_pool(pa.system_memory_pool())
    pa.set_io_thread_count(ARROW_IO_THREADS)
