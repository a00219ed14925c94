"""Each phase in a fresh child process (multiprocessing, spawn), so its peak RSS is its own.

The child reports ``getrusage(RUSAGE_SELF).ru_maxrss`` (KB on Linux) when the phase is done:
the interpreter, the imports and whatever the phase held at its peak.
"""

from __future__ import annotations

import multiprocessing
import resource
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

Phase = Callable[..., dict[str, Any]]


def _child(phase: Phase, args: tuple[Any, ...]) -> tuple[dict[str, Any], float]:
    result = phase(*args)
    return result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_phase(phase: Phase, *args: Any) -> tuple[dict[str, Any], float]:
    """The phase's result and the child's peak RSS in MB."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        result, peak = pool.submit(_child, phase, args).result()
    return result, round(peak, 1)
