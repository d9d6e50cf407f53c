"""HTTP(S) sources, read-only: one URL is one file, listed by a HEAD request and read as a stream.

A URL names one file: there are no directories or globs over HTTP (`?` starts a query string).
`head(url)` gives its size (Content-Length), modification time (Last-Modified) and version
(ETag, Last-Modified), which the manifest records. `open_url(url, listed)` streams it through smart_open's
seekable HTTP reader: every GET (the first, and the ranged ones for seeks) is sent with If-Match on the
ETag listed, and a first answer with another ETag or Last-Modified than listed is refused, so the counting
pass, every spool and the manifest all have one version of a file.

Retries happen in two places, one per kind of failure, never stacked:

- **a request** (HEAD, GET, ranged GET) that fails to connect, times out, or is answered 429 or
  5xx is retried by urllib3's `Retry` on this process's `requests.Session`: exponential backoff
  (at once, then 1, 2, 4, 8 s; Retry-After honoured), at most HTTP_MAX_ATTEMPTS attempts;
- **a body that breaks mid-stream** (connection reset, a body shorter than its Content-Length,
  a read timeout) is outside urllib3's retries: `Reader` reopens the URL and resumes at the byte
  it had reached with a Range request, or, when the server ignores ranges, restarts from byte 0
  and skips what it had already handed out; at most HTTP_MAX_ATTEMPTS times in a row, and only
  when the file's ETag/Last-Modified is the one first read (a file replaced meanwhile is an error,
  not a mix of two versions).

A 404, a 403 or any other answer that retrying will not fix is one StorageError naming the URL.
This module does not write: an artifact cannot be published to an HTTP URL (`HttpBackend` refuses).
"""

from __future__ import annotations

import email.utils
import io
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import IO, Any

from ..display import redact
from ..errors import StorageError, StorageUnavailableError
from .base import FileInfo, ReadOnlyBackend, S3Settings, is_compressed

logger = logging.getLogger(__name__)

HTTP_MAX_ATTEMPTS = 6  # attempts per request (urllib3) and per broken body (Reader)
HTTP_BACKOFF_SECONDS = 0.5  # urllib3's backoff_factor: retries after 0, 1, 2, 4, 8 s; Reader's 0.5, 1, 2, 4, 8 s
HTTP_TIMEOUT_SECONDS = (10.0, 60.0)  # (connect, read): a stalled read counts as a broken body and resumes
RETRY_STATUS = (429, 500, 502, 503, 504)  # answers worth asking again
BUFFER_BYTES = 1 << 20  # smart_open's read buffer: one body read per MiB
_IDENTITY = {"Accept-Encoding": "identity"}  # the bytes as stored: Content-Length and ranges count those


@dataclass(frozen=True)
class Head:
    """What a HEAD request says about a URL."""

    size: int  # bytes (Content-Length)
    mtime: float  # seconds since epoch (Last-Modified; 0.0 when the server gives none)
    etag: str | None  # the ETag header as sent, quotes included; None when absent
    last_modified: str | None  # the Last-Modified header as sent; None when absent


_sessions: dict[tuple[int, int, float], object] = {}  # (pid, attempts, backoff) -> requests.Session
_sessions_lock = threading.Lock()


def session():
    """This process's `requests.Session`, with urllib3's retries for every request (built once per process)."""
    key = (os.getpid(), HTTP_MAX_ATTEMPTS, HTTP_BACKOFF_SECONDS)
    with _sessions_lock:
        if key not in _sessions:
            import requests
            from requests.adapters import HTTPAdapter
            from urllib3.util.retry import Retry

            retries = Retry(total=HTTP_MAX_ATTEMPTS - 1, connect=HTTP_MAX_ATTEMPTS - 1, read=HTTP_MAX_ATTEMPTS - 1,
                            status=HTTP_MAX_ATTEMPTS - 1, other=0, backoff_factor=HTTP_BACKOFF_SECONDS,
                            backoff_max=30.0, status_forcelist=RETRY_STATUS,
                            allowed_methods=frozenset({"HEAD", "GET"}),
                            raise_on_status=False,  # the last answer is returned and named by its status
                            respect_retry_after_header=True)
            s = requests.Session()
            adapter = HTTPAdapter(max_retries=retries, pool_maxsize=16)
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            _sessions[key] = s
        return _sessions[key]


def _reason(exc: BaseException) -> str:
    """The root cause of a requests/urllib3 failure in a few words, e.g. '[Errno 111] Connection refused'.

    >>> _reason(OSError("HTTPConnectionPool(...): Max retries exceeded (Caused by NewConnectionError("
    ...     "'...: Failed to establish a new connection: [Errno 111] Connection refused'))"))
    '[Errno 111] Connection refused'
    """
    text = " ".join(str(exc).split())
    errno = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    if errno:
        return errno.group().strip()
    if "timed out" in text.lower():
        return "timed out"
    return type(exc).__name__ + (f": {text[:200]}" if text else "")


def _status_error(url: str, status: int, reason: str) -> StorageError:
    if status == 404:
        return StorageError(f"{url}: not found (HTTP 404)")
    if status in (401, 403):
        return StorageError(f"{url}: access denied (HTTP {status}); w2v sends no credentials over HTTP")
    if status == 412:
        return StorageError(f"{url}: the file changed on the server since it was listed or first read (HTTP 412); "
                            f"run the job again")
    if status in RETRY_STATUS:  # the server's trouble, not the input's: exit 6, worth retrying later
        return StorageUnavailableError(f"{url}: HTTP {status} {reason} after {HTTP_MAX_ATTEMPTS} attempts")
    if status >= 500:
        return StorageUnavailableError(f"{url}: HTTP {status} {reason}".rstrip())
    return StorageError(f"{url}: HTTP {status} {reason}".rstrip())


def _request_error(url: str, exc: BaseException) -> StorageError:
    """A failed request (requests' exception) as one StorageError: its status when answered, else why not."""
    response = getattr(exc, "response", None)
    if response is not None:
        return _status_error(url, response.status_code, response.reason or "")
    return StorageError(f"{url}: cannot be reached ({_reason(exc)})")


def head(url: str) -> Head:
    """Size, time and version of one URL; a GET's headers (body left unread) where the server refuses HEAD."""
    import requests

    try:
        r = session().head(url, allow_redirects=True, headers=_IDENTITY, timeout=HTTP_TIMEOUT_SECONDS)
        if r.status_code in (403, 405, 501):  # HEAD refused (a presigned GET URL answers 403): a GET's headers
            r = session().get(url, stream=True, headers=_IDENTITY, timeout=HTTP_TIMEOUT_SECONDS)
            r.close()
    except requests.RequestException as exc:
        raise _request_error(url, exc) from None
    if r.status_code >= 400:
        raise _status_error(url, r.status_code, r.reason or "")
    length = r.headers.get("Content-Length", "")
    if not length.isdecimal():
        raise StorageError(f"{url}: the server gives no Content-Length; w2v needs a file's size to plan the job "
                           f"(download it and give the local path)")
    last_modified = r.headers.get("Last-Modified")
    return Head(size=int(length), mtime=_timestamp(last_modified), etag=r.headers.get("ETag"),
                last_modified=last_modified)


def _timestamp(http_date: str | None) -> float:
    """An HTTP date as seconds since epoch; 0.0 when absent or unreadable.

    >>> _timestamp("Sun, 06 Nov 1994 08:49:37 GMT"), _timestamp(None)
    (784111777.0, 0.0)
    """
    if not http_date:
        return 0.0
    try:
        return email.utils.parsedate_to_datetime(http_date).timestamp()
    except (TypeError, ValueError):
        return 0.0


def _broken_body_errors() -> tuple[type[BaseException], ...]:
    """What a body that breaks mid-stream raises: urllib3 and requests errors, resets, timeouts."""
    import requests
    import urllib3

    return (urllib3.exceptions.HTTPError, requests.exceptions.ConnectionError, requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError, ConnectionError, TimeoutError)


def open_url(url: str, listed: dict[str, str] | None = None) -> "Reader":
    """A seekable binary stream over one URL, of the version `listed` (`etag`, `last_modified`) when given."""
    return Reader(url, listed)


class Reader(io.RawIOBase):
    """The bytes of one URL, streamed by smart_open, resumed where a broken body stopped.

    Seekable when the server serves byte ranges (zip archives need it: `archive`). Memory is
    smart_open's buffer (BUFFER_BYTES), whatever the size of the file.
    """

    def __init__(self, url: str, listed: dict[str, str] | None = None):
        self.url = url  # what is read, named in every error
        self.listed = listed or {}  # etag / last_modified at listing: every pass must read that version
        self.pos = 0  # bytes handed out (or sought to): where a resumed body starts
        self.inner = self._open()  # smart_open's reader over the current response
        self.version = self._version_of(self.inner)  # (ETag, Last-Modified) of the first answer: a resume must match
        self._check_listed()

    def _open(self) -> IO:
        import requests
        import smart_open

        etag = self.listed.get("etag")
        pin = {"If-Match": etag} if etag and not etag.startswith("W/") else {}  # a weak ETag never matches strongly
        params = {"session": session(), "timeout": HTTP_TIMEOUT_SECONDS, "buffer_size": BUFFER_BYTES,
                  "headers": {**_IDENTITY, **pin}}
        try:
            return smart_open.open(self.url, "rb", compression="disable", transport_params=params)
        except requests.RequestException as exc:
            raise _request_error(self.url, exc) from None

    def _check_listed(self) -> None:
        """Refuse a first answer of another version than the listing's (a server that ignores If-Match, or
        gives Last-Modified only): the vocabulary and the training must read the same bytes."""
        listed = (self.listed.get("etag"), self.listed.get("last_modified"))
        changed = [i for i in (0, 1) if listed[i] and listed[i] != self.version[i]]
        if changed and (listed[0] is None or 0 in changed):  # the ETag decides when there is one
            self.inner.close()
            raise StorageError(f"{self.url}: the file changed on the server since it was listed (ETag/Last-Modified "
                               f"{listed} -> {self.version}); run the job again")

    @staticmethod
    def _version_of(inner: IO) -> tuple[str | None, str | None]:
        headers = inner.response.headers if getattr(inner, "response", None) is not None else {}
        return headers.get("ETag"), headers.get("Last-Modified")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self.inner.seekable()

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to a byte (a ranged GET, with If-Match on the version first read)."""
        import requests

        try:
            self.pos = self.inner.seek(offset, whence)
        except requests.HTTPError as exc:  # 412: changed since first read; 404: removed meanwhile
            raise _request_error(self.url, exc) from None
        return self.pos

    def readinto(self, buffer) -> int:
        broken = _broken_body_errors()
        failed = False  # the last attempt broke: reopen before reading again
        for attempt in range(1, HTTP_MAX_ATTEMPTS + 1):
            try:
                if failed:
                    self._resume()
                n = self.inner.readinto(buffer)
            except broken as exc:
                if attempt == HTTP_MAX_ATTEMPTS:
                    # `pos` is where the last read started: what a broken body brought beyond it is read again
                    raise StorageUnavailableError(f"{self.url}: the connection broke {HTTP_MAX_ATTEMPTS} times in a "
                                                  f"row, the last time in the read from byte {self.pos:,} on "
                                                  f"({_reason(exc)})") from None
                failed = True
                delay = min(30.0, HTTP_BACKOFF_SECONDS * 2 ** (attempt - 1))
                logger.warning("%s: the body broke in the read from byte %d on (%s); resuming in %.1f s "
                               "(attempt %d/%d)", redact(self.url), self.pos, _reason(exc), delay, attempt + 1,
                               HTTP_MAX_ATTEMPTS)
                time.sleep(delay)
                continue
            self.pos += n
            return n
        raise AssertionError("unreachable")

    def _resume(self) -> None:
        """Reopen at `self.pos`: a Range request, or (no ranges) a restart that skips the bytes handed out."""
        self.inner.close()
        self.inner = self._open()
        version = self._version_of(self.inner)
        if version != self.version:
            raise StorageError(f"{self.url}: the file changed on the server while it was read "
                               f"(ETag/Last-Modified {self.version} -> {version}); run the job again")
        if self.pos == 0:
            return
        if self.inner.seekable():
            try:
                self.inner.seek(self.pos)
                return
            except io.UnsupportedOperation:  # "server ignored the range request": restart below
                self.inner.close()
                self.inner = self._open()
        left = self.pos
        while left:
            skipped = self.inner.read(min(left, BUFFER_BYTES))
            if not skipped:
                raise StorageError(f"{self.url}: the file is shorter than the {self.pos:,} bytes already read")
            left -= len(skipped)
        logger.info("%s: the server ignores byte ranges: restarted from byte 0 and skipped %d bytes",
                    redact(self.url), self.pos)

    def close(self) -> None:
        if not self.closed:
            self.inner.close()
        super().close()


class HttpBackend(ReadOnlyBackend):
    """http:// and https:// URLs: one URL is one file, listed by HEAD, streamed with retries (this module)."""

    what = "an HTTP URL"
    pins_versions = True  # `open(..., version=)`: reads only the version listed

    def list_files(self, uri: str, settings: S3Settings) -> list[FileInfo]:
        found = head(uri)
        return [FileInfo(uri=uri, size=found.size, mtime=found.mtime, etag=found.etag,
                         last_modified=found.last_modified)]

    def open(self, uri: str, mode: str, settings: S3Settings, version: dict[str, str] | None = None,
             **kwargs: Any) -> IO:
        from smart_open.compression import compression_wrapper

        if mode not in ("rb", "r"):
            self._read_only(uri)
        stream: IO = io.BufferedReader(open_url(uri, version), BUFFER_BYTES)
        if kwargs.get("compression", "infer_from_extension") != "disable" and is_compressed(uri):
            stream = compression_wrapper(stream, "rb", filename=uri)
        return stream if mode == "rb" else io.TextIOWrapper(stream, encoding=kwargs.get("encoding") or "utf-8")

    def exists(self, uri: str, settings: S3Settings) -> bool:
        try:
            head(uri)
            return True
        except StorageError as exc:
            if "(HTTP 404)" in str(exc):
                return False
            raise

