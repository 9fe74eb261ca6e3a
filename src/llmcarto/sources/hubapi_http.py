"""One bounded, rate-limit-aware GET for every Hub API call the collector makes.

huggingface_hub retries 429/5xx inside its list calls but not in `model_info`, the
discussion or the commit calls, and its page loop cannot be resumed (design.md §8). The
collector therefore sends every request through `HubHttp.get`, on huggingface_hub's
shared HTTP session with the headers `build_hf_headers` makes (user agent, token):

* 429: wait what ``Retry-After`` or the ``RateLimit`` header (``"api";r=0;t=55``) says,
  else back off; 429s do not use up the retry budget (they are the Hub saying "later",
  not "broken"), but at most `max_rate_limited` in a row are accepted.
* 408/5xx, timeouts, dropped connections and bodies that are not JSON (a truncated
  reply): exponential backoff up to `max_attempts` attempts, then `FetchError`.
* any other 4xx: `FetchError` at once (permanent: retrying cannot help).
* a response whose ``RateLimit`` header says no request is left: the next request first
  waits for the window to reset.

Every attempt counts as a request (the Hub counts them so); time slept on rate limits and
on backoff is counted apart. Error reasons are redacted (`hubapi_secret.redact`).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2
from huggingface_hub.utils import build_hf_headers, get_session, parse_ratelimit_headers

from llmcarto import __version__
from llmcarto.sources.hubapi_secret import Secret, redact

DEFAULT_ENDPOINT = "https://huggingface.co"
TRANSIENT_STATUS = (408, 500, 502, 503, 504)
_TRANSIENT_EXC = (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError,
                  httpx2.DecodingError)
Params = Sequence[tuple[str, Any]] | dict[str, Any] | None


class FetchError(Exception):
    """A request that did not succeed within its budget; `reason` is safe to store."""

    def __init__(self, reason: str, status: int | None = None, permanent: bool = False,
                 body: str = "") -> None:
        self.reason = redact(reason)
        self.status = status
        self.permanent = permanent
        self.body = redact(body)
        super().__init__(self.reason)


@dataclass
class Stats:
    """What the collector spent: requests by kind, retries, seconds waited."""

    requests: Counter = field(default_factory=Counter)
    retries: int = 0
    rate_limited: int = 0
    rate_wait: float = 0.0
    backoff_wait: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def snapshot(self) -> dict[str, Any]:
        return {"requests": self.total, "by_kind": dict(sorted(self.requests.items())),
                "retries": self.retries, "rate_limited": self.rate_limited,
                "rate_wait_s": round(self.rate_wait, 3),
                "backoff_wait_s": round(self.backoff_wait, 3)}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str
    data: Any = None  # the decoded JSON when asked for
    next_url: str | None = None  # `Link: <…>; rel="next"`


class HubHttp:
    """GET with the policy of the module doc. `sleep` is injectable for tests."""

    def __init__(self, endpoint: str, token: Secret | None, *, timeout: float = 30.0,
                 max_attempts: int = 6, max_rate_limited: int = 30,
                 backoff_base: float = 1.0, backoff_max: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep,
                 on_wait: Callable[[str, float], None] | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_rate_limited = max_rate_limited
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.sleep = sleep
        self.on_wait = on_wait
        self.stats = Stats()
        self._headers = build_hf_headers(token=token.reveal() if token else False,
                                         library_name="llmcarto", library_version=__version__)
        self._reset_at: float | None = None  # monotonic time the rate window resets

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.endpoint + path

    def get(self, path: str, params: Params = None, *, kind: str = "other",
            expect_json: bool = True, ok_status: tuple[int, ...] = (200,),
            extra_headers: dict[str, str] | None = None) -> Reply:
        url = self.url(path)
        headers = {**self._headers, **(extra_headers or {})}
        attempt = 0
        limited = 0
        delay = self.backoff_base
        while True:
            self._wait_for_window()
            attempt += 1
            self.stats.requests[kind] += 1
            try:
                response = get_session().get(url, params=params, headers=headers,
                                             timeout=self.timeout, follow_redirects=True)
                body = response.content
            except _TRANSIENT_EXC as exc:
                reason = f"{type(exc).__name__} requesting {_short(url)}"
                delay = self._backoff(attempt, delay, reason)
                continue
            self._note_rate_headers(response.headers)
            status = response.status_code
            if status == 429:
                limited += 1
                self.stats.rate_limited += 1
                if limited > self.max_rate_limited:
                    raise FetchError(f"HTTP 429 rate limited {limited} times in a row on "
                                     f"{_short(url)}", status=429)
                wait = _retry_after(response.headers)
                if wait is None:
                    wait = min(self.backoff_max, self.backoff_base * 2 ** (limited - 1))
                self._reset_at = None  # this wait covers the window the headers announced
                self._pause(wait, "rate limit")
                continue
            if status in TRANSIENT_STATUS:
                reason = f"HTTP {status} from {_short(url)}: {_excerpt(body)}"
                delay = self._backoff(attempt, delay, reason, status=status, body=body)
                continue
            if status not in ok_status:
                raise FetchError(f"HTTP {status} from {_short(url)}: {_excerpt(body)}",
                                 status=status, permanent=True, body=_excerpt(body, 500))
            reply = Reply(status, {k.lower(): v for k, v in response.headers.items()}, body,
                          str(response.url),
                          next_url=response.links.get("next", {}).get("url"))
            if expect_json and status == 200:
                try:
                    reply.data = json.loads(body)
                except ValueError as exc:
                    reason = (f"reply from {_short(url)} is not JSON ({len(body)} bytes; "
                              f"{exc.__class__.__name__} at char {getattr(exc, 'pos', '?')})")
                    delay = self._backoff(attempt, delay, reason)
                    continue
            return reply

    # ------------------------------------------------------------------ waiting

    def _backoff(self, attempt: int, delay: float, reason: str, status: int | None = None,
                 body: bytes = b"") -> float:
        if attempt >= self.max_attempts:
            raise FetchError(f"{reason} (gave up after {attempt} attempts)", status=status,
                             body=_excerpt(body, 500))
        self.stats.retries += 1
        wait = min(self.backoff_max, delay) * (0.5 + random.random() / 2)
        self.stats.backoff_wait += wait
        if self.on_wait:
            self.on_wait("backoff", wait)
        self.sleep(wait)
        return min(self.backoff_max, delay * 2)

    def _pause(self, seconds: float, why: str) -> None:
        seconds = max(0.0, float(seconds))
        self.stats.rate_wait += seconds
        if self.on_wait:
            self.on_wait(why, seconds)
        if seconds:
            self.sleep(seconds)

    def _note_rate_headers(self, headers: Any) -> None:
        info = parse_ratelimit_headers(headers)
        if info is not None and info.remaining <= 0:
            self._reset_at = time.monotonic() + info.reset_in_seconds
        else:
            self._reset_at = None

    def _wait_for_window(self) -> None:
        if self._reset_at is None:
            return
        left = self._reset_at - time.monotonic()
        self._reset_at = None
        if left > 0:
            self._pause(left, "rate limit window")


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds) or a ``RateLimit`` header with r=0."""
    value = headers.get("retry-after")
    if value is not None and value.strip().replace(".", "", 1).isdigit():
        return float(value.strip())
    info = parse_ratelimit_headers(headers)
    if info is not None and info.remaining <= 0:
        return float(info.reset_in_seconds)
    return None


def _short(url: str) -> str:
    return redact(url if len(url) <= 200 else url[:200] + "…")


def _excerpt(body: bytes, limit: int = 160) -> str:
    text = body[:limit * 4].decode("utf-8", "replace")
    text = " ".join(text.split())
    return redact(text[:limit] + ("…" if len(text) > limit else ""))
