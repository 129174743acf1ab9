"""How requests reach Fibery: a rate limiter, retries, deadlines and request statistics.

``PoliteTransport`` wraps the httpx transport that gql and the file downloads share, so that
every request, whoever sends it, is spaced by one limiter, counted once, retried on the
answers that invite it (429, 502–504, timeouts, a connection dropped mid-answer) and bounded
by a deadline for the whole answer, not just for each read: a server that trickles one
byte a second must not hold a build for ever.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import logging
import math
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx

from .stats import RequestStats

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER = 60.0
"""The longest ``Retry-After`` obeyed, in seconds: a server asking for a day gets a minute."""
RETRIED_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)
"""Failures worth another try: the server was reached but the answer broke off. A refused
or unresolvable connection is not retried: it fails at once, with its reason."""

shrink_on_timeout: contextvars.ContextVar[bool] = contextvars.ContextVar("shrink_on_timeout", default=False)
"""Set by a caller that answers a timeout with a smaller request (a list page of half the
size) rather than the same request again: the transport then does not retry timeouts."""


class RateLimiter:
    """Keep every request start at least ``1/rate`` seconds after the previous one, and at
    most ``floor(rate)`` starts inside any ``window`` (1.06 s): a server that allows ``rate``
    requests per second, counted from when each arrives, never sees one too many, even when
    a request reaches it up to 60 ms later than another (network and scheduling jitter).
    When an answer comes does not matter; at most ``concurrency`` requests are in flight.

    A start is when the whole request has gone out (``sent``, from httpcore's trace: its
    headers, then its body), not when ``acquire`` let it go: a request held back in the
    client (a busy event loop, a connection being opened) does not shorten the gap the server
    sees before the next. ``acquire`` waits for the next start and returns a slot number;
    ``release`` it when the answer (or the failure) is in, which frees room for another
    concurrent request. A 429 all the same (a server that counts differently, or more
    jitter than the margin) widens the window for the rest of the build: ``slow_down``."""

    WINDOW = 1.06
    """Seconds in which at most ``floor(rate)`` requests start: 1 s plus a 6 % margin."""
    WIDEST = 1.5
    """The widest ``slow_down`` makes the window: a server still answering 429 then is
    refusing for other reasons, which retries with backoff handle."""

    def __init__(self, rate: float, *, concurrency: int | None = None) -> None:
        self.per_window = max(1, math.floor(rate))
        self.interval = 1.0 / rate
        self.window = self.WINDOW
        self.concurrency = concurrency or 2 * self.per_window
        self._starts: dict[int, float] = {}
        """Slot → when its request started (taken when it is let go, moved to when its
        headers are actually sent, ``sent``), for the last few slots."""
        self._in_flight = 0
        self._slots = 0
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _delay(self, now: float) -> float:
        """Seconds until a request may start, counted from ``now``."""
        starts = sorted(self._starts.values())
        if not starts:
            return 0.0
        delay = starts[-1] + self.interval - now
        recent = [t for t in starts if t > now - self.window]
        if len(recent) >= self.per_window:
            delay = max(delay, recent[-self.per_window] + self.window - now)
        return delay

    async def acquire(self) -> int:
        """Wait for the next start (and a free place in flight); return the slot to ``release``."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:  # a client may fetch in several event loops
            self._lock, self._loop = asyncio.Lock(), loop
        async with self._lock:
            while self._in_flight >= self.concurrency:
                await asyncio.sleep(0.01)
            while (delay := self._delay(time.monotonic())) > 0:
                await asyncio.sleep(delay)
            self._in_flight += 1
            self._slots += 1
            self._starts[self._slots] = time.monotonic()
            for old in [slot for slot in self._starts if slot <= self._slots - 4 * self.per_window]:
                del self._starts[old]
            return self._slots

    def sent(self, slot: int) -> None:
        """The request of ``slot`` is going out only now (its connection was slow to come,
        or the event loop was busy): count it from now."""
        if slot in self._starts:
            self._starts[slot] = max(self._starts[slot], time.monotonic())

    def slow_down(self) -> None:
        """The server refused a request as one too many: widen the window by a tenth (up to
        ``WIDEST``) and the spacing with it, so that it does not happen again."""
        widened = min(self.WIDEST, self.window * 1.1)
        if widened > self.window:
            self.interval *= widened / self.window
            self.window = widened
            message = "Fibery answered 429: at most %d requests start in any %.2f s from now on"
            log.info(message, self.per_window, widened)

    def release(self, slot: int) -> None:
        """The request of ``slot`` was answered (or failed)."""
        self._in_flight -= 1

    async def wait(self) -> None:
        """Wait for the start of a request that takes no time."""
        self.release(await self.acquire())


def retry_after(response: httpx.Response | None) -> float | None:
    """The wait a server asks for in ``Retry-After`` (seconds or an HTTP date), if any."""
    header = response.headers.get("Retry-After") if response is not None else None
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        when = server_time({"date": header})
        return max(0.0, when.timestamp() - time.time()) if when else None


def retry_delay(response: httpx.Response | None, attempt: int, backoff: float) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): ``Retry-After`` when the server
    sends one (at most ``MAX_RETRY_AFTER``), else exponential backoff ``backoff * 2**(attempt-1)``."""
    asked = retry_after(response)
    if asked is None:
        return backoff * 2 ** (attempt - 1)
    if asked > MAX_RETRY_AFTER:
        log.warning("Fibery asked to wait %.0f s before retrying; waiting %.0f s", asked, MAX_RETRY_AFTER)
    return min(asked, MAX_RETRY_AFTER)


def server_time(headers: Any) -> datetime | None:
    """The server's clock from an HTTP ``Date`` header, or None when it is missing or
    unusable (no time zone, as a proxy's ``-0000`` gives, counts as unusable)."""
    value = headers.get("date") if headers is not None else None
    try:
        moment = email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


class _Deadline(httpx.AsyncByteStream):
    """A response body that fails with a timeout once the whole answer has taken too long."""

    def __init__(self, inner: Any, request: httpx.Request, deadline: float) -> None:
        self._inner = inner
        self._request = request
        self._deadline = deadline

    async def __aiter__(self) -> AsyncIterator[bytes]:
        iterator = self._inner.__aiter__()
        while True:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise httpx.ReadTimeout("the answer took longer than the request deadline", request=self._request)
            try:
                chunk = await asyncio.wait_for(iterator.__anext__(), left)
            except StopAsyncIteration:
                return
            except TimeoutError:
                message = "the answer took longer than the request deadline"
                raise httpx.ReadTimeout(message, request=self._request) from None
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class PoliteTransport(httpx.AsyncBaseTransport):
    """An httpx transport that rate-limits, counts, retries and bounds every request.

    ``deadline`` is the most one attempt may take, answer included. GraphQL and schema
    answers are read inside the attempt, so a deadline or a broken-off answer is retried;
    file downloads stream (their size is checked as they arrive) under the same deadline."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        limiter: RateLimiter,
        stats: RequestStats,
        retries: int,
        backoff: float,
        deadline: float = math.inf,
    ) -> None:
        self._inner = inner
        self._limiter = limiter
        self._stats = stats
        self._retries = retries
        self._backoff = backoff
        self._deadline = deadline

    async def _attempt(self, request: httpx.Request, slot: int) -> httpx.Response:
        started = time.monotonic()
        traced = request.extensions.get("trace")

        async def trace(event: str, info: dict[str, Any]) -> None:
            if event.endswith(("send_request_headers.started", "send_request_body.complete")):  # http11. / http2.
                self._limiter.sent(slot)
            if traced is not None:
                await traced(event, info)

        request.extensions = {**request.extensions, "trace": trace}
        response = await asyncio.wait_for(self._inner.handle_async_request(request), self._deadline)
        response.stream = _Deadline(response.stream, request, started + self._deadline)
        if not request.url.path.startswith("/api/files/"):
            try:
                await response.aread()
            finally:
                await response.aclose()
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            slot = await self._limiter.acquire()
            try:
                response: httpx.Response | None = await self._attempt(request, slot)
            except (*RETRIED_ERRORS, TimeoutError) as exc:  # type: ignore[misc]  # a tuple of exception types
                self._stats.record(0)
                timed_out = isinstance(exc, httpx.TimeoutException | TimeoutError)
                if attempt >= self._retries or (timed_out and shrink_on_timeout.get()):
                    if isinstance(exc, TimeoutError):
                        raise httpx.ReadTimeout("no answer within the request deadline", request=request) from None
                    raise
                log.info("%s from %s: %s", type(exc).__name__, request.url.path, exc or "no reason given")
                response = None
            else:
                assert response is not None
                self._stats.record(response.status_code)
                if response.status_code == 429:
                    self._limiter.slow_down()
                if response.status_code not in RETRY_STATUSES or attempt >= self._retries:
                    return response
                await response.aclose()
            finally:
                self._limiter.release(slot)
            attempt += 1
            self._stats.retries += 1
            delay = retry_delay(response, attempt, self._backoff)
            log.info("retry %d/%d of %s in %.1f s", attempt, self._retries, request.url.path, delay)
            await asyncio.sleep(delay)

    async def aclose(self) -> None:
        await self._inner.aclose()


class Unclosed(httpx.AsyncBaseTransport):
    """Share the polite transport with a short-lived client without closing it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)
