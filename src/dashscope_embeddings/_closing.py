"""``with`` and ``async with`` for everything that owns connections."""

from __future__ import annotations

from typing_extensions import Self

__all__ = ["Closing"]


class Closing:
    """Context managers over ``close()`` / ``aclose()``, which the subclass defines."""

    def close(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
