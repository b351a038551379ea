"""``dashscope-emulator`` / ``python -m dashscope_embeddings.emulator``: run the emulator.

Prints the base URL (one line on stdout) once it listens, then serves until
SIGINT/SIGTERM. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence

from .._wire import is_loopback_host
from ._config import EmulatorConfig
from ._server import EmulatorServer

__all__ = ["main"]

logger = logging.getLogger("dashscope_embeddings.emulator")

_KEY_ENV = "DASHSCOPE_EMULATOR_API_KEY"


def _parser() -> argparse.ArgumentParser:
    defaults = EmulatorConfig()
    p = argparse.ArgumentParser(
        prog="dashscope-emulator",
        description="Local DashScope embedding service for tests and demos (never reaches "
        "the network; vectors are deterministic stand-ins).",
    )
    p.add_argument("--host", default=defaults.host, help="bind address (default: loopback)")
    p.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one")
    p.add_argument("--latency", type=float, default=defaults.latency, help="seconds per request")
    p.add_argument("--jitter", type=float, default=defaults.jitter, help="extra random seconds")
    p.add_argument("--rpm", type=int, default=None, help="requests per sliding minute (429)")
    p.add_argument("--error-rate", type=float, default=0.0, help="share of random 500/503")
    p.add_argument("--reset-rate", type=float, default=0.0, help="share of connection resets")
    p.add_argument("--slow-rate", type=float, default=0.0, help="share of slow answers")
    p.add_argument("--slow-seconds", type=float, default=defaults.slow_seconds)
    p.add_argument("--seed", type=int, default=defaults.seed, help="seed of the fault RNG")
    p.add_argument(
        "--api-key",
        default=None,
        help=f"accept only this key (default: ${_KEY_ENV}, else any non-empty key)",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = EmulatorConfig(
            host=args.host,
            port=args.port,
            latency=args.latency,
            jitter=args.jitter,
            rpm=args.rpm,
            error_rate=args.error_rate,
            reset_rate=args.reset_rate,
            slow_rate=args.slow_rate,
            slow_seconds=args.slow_seconds,
            seed=args.seed,
            api_key=args.api_key or os.environ.get(_KEY_ENV) or None,
        )
    except ValueError as exc:
        print(f"dashscope-emulator: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    if not is_loopback_host(config.host):
        logger.warning("listening on %s: reachable from other machines", config.host)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config))
    return 0


async def _serve(config: EmulatorConfig) -> None:
    server = EmulatorServer(config)
    url = await server.start()
    print(url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.close()


if __name__ == "__main__":
    sys.exit(main())
