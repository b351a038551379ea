"""A local DashScope embedding service: the real API's shape, limits and failure modes.

Run it in-process for tests::

    from dashscope_embeddings.emulator import Emulator

    with Emulator(latency=0.05) as emu:
        ...  # point any DashScope client at emu.base_url
        emu.inject(status=503, times=2)  # the next two requests fail
        assert emu.stats.requests == ...

or as a process: ``dashscope-emulator --port 8765`` (``python -m
dashscope_embeddings.emulator``). It validates requests against the
package's model catalog, answers deterministic stand-in vectors (colour
words and image colours share dimensions, so small demos behave sensibly),
shapes ``usage`` per model family, returns results out of input order, and
injects latency, throttling, errors, resets and slow answers on demand.
``EmulatorTransport`` is the same service as an ``httpx`` transport, for
tests without sockets, threads or timing. It
never reaches the network: image and video URLs are embedded from their
words, not fetched. Image colours need Pillow (the ``emulator`` extra);
without it images are still embedded, from a hash of their bytes.
"""

from ._config import EmulatorConfig
from ._emulator import Emulator
from ._faults import Fault
from ._state import RecordedRequest, Stats
from ._transport import EmulatorTransport
from ._vectors import PALETTE

__all__ = [
    "PALETTE",
    "Emulator",
    "EmulatorConfig",
    "EmulatorTransport",
    "Fault",
    "RecordedRequest",
    "Stats",
]
