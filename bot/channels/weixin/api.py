"""The platforms' JSON API: calls guarded by an access token shared through the database."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from bot.channels.weixin.tokens import TokenStore, TokenUnavailableError
from bot.core.ports import DeliveryStatus, SendResult

logger = logging.getLogger(__name__)

T = TypeVar("T")

HTTP_TIMEOUT = 10.0

# Error codes both platforms use, handled by name rather than retried blindly.
TOKEN_INVALID = frozenset({40001, 40014, 42001})
API_QUOTA = 45009
UNTRUSTED_IP = frozenset({40164, 60020})
# An error answer to a download is a small JSON object; nothing larger is read as one.
MAX_ERROR_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Media:
    """A file downloaded from the platform: its bytes (none when over the limit) and its size.

    `truncated`: the file came without a stated length and the download stopped once it passed
    the limit, so it is larger than `size` says.
    """

    content: bytes
    size: int
    content_type: str
    truncated: bool = False


class ApiError(Exception):
    """The platform answered a call with a non-zero `errcode` (or could not be reached: -1)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


class ApiClient:
    """JSON calls to the WeChat or WeCom API with a shared access token, refreshed once on 40001."""

    def __init__(
        self,
        *,
        label: str,
        base_url: str,
        token_name: str,
        refresh_path: str,
        refresh_params: Mapping[str, str],
        tokens: TokenStore,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.label = label
        self._base_url = base_url.rstrip("/")
        self._token_name = token_name
        self._refresh_path = refresh_path
        self._refresh_params = dict(refresh_params)
        self._tokens = tokens
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client, created on first use (inside the running event loop)."""
        if self._client is None:
            # httpx logs request URLs at INFO, and ours carry the access token.
            logging.getLogger("httpx").setLevel(logging.WARNING)
            self._client = httpx.AsyncClient(
                base_url=self._base_url, timeout=HTTP_TIMEOUT, transport=self._transport
            )
        return self._client

    async def aclose(self) -> None:
        """Closes the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def token(self) -> str:
        """Returns a valid access token from the shared store."""
        try:
            return await self._tokens.get(self._token_name, self._fetch_token)
        except TokenUnavailableError:
            raise ApiError(-1, "access token is being refreshed by another process") from None

    async def call(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POSTs `payload` to `path`; on an invalid or expired token refreshes once and retries once."""
        return await self._with_token(lambda token: self._post(path, token, payload))

    async def download(self, path: str, params: Mapping[str, str], *, max_bytes: int) -> Media:
        """GETs a file (refreshing a refused token once); past `max_bytes` only its size is kept."""
        return await self._with_token(lambda token: self._download(path, token, params, max_bytes))

    async def _with_token(self, attempt: Callable[[str], Awaitable[T]]) -> T:
        """Makes a call with the shared token; when the platform refuses it, refreshes and retries once."""
        token = await self.token()
        try:
            return await attempt(token)
        except ApiError as error:
            if error.code not in TOKEN_INVALID:
                raise
            logger.warning(
                "%s refused the access token (%d %s): refreshing it once and retrying",
                self.label,
                error.code,
                error.message,
            )
        await self._tokens.invalidate(self._token_name, token)
        return await attempt(await self.token())

    async def _download(
        self, path: str, token: str, params: Mapping[str, str], max_bytes: int
    ) -> Media:
        """Makes one download; raises ApiError for an error answer (JSON instead of the file)."""
        query = {**params, "access_token": token}
        try:
            async with self.client.stream("GET", path, params=query) as response:
                if response.status_code != 200:
                    raise ApiError(-1, f"HTTP {response.status_code}")
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if "json" in kind or kind.startswith("text/"):
                    # The platforms answer a failed download with an errcode, not the file.
                    body, _ = await _read(response, MAX_ERROR_BYTES)
                    _error_of(body or b"")
                    raise ApiError(-1, "answer without the file")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    return Media(b"", int(declared), kind)
                content, size = await _read(response, max_bytes)
                if content is None:
                    return Media(b"", size, kind, truncated=True)
                return Media(content, size, kind)
        except httpx.HTTPError as exc:
            raise ApiError(-1, f"unreachable: {type(exc).__name__}") from None

    async def _post(self, path: str, token: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Makes one call; raises ApiError for an error answer."""
        # The platforms show \\u escapes literally in some messages: send real UTF-8.
        body = json.dumps(payload, ensure_ascii=False).encode()
        try:
            response = await self.client.post(
                path,
                params={"access_token": token},
                content=body,
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
        except httpx.HTTPError as exc:
            raise ApiError(-1, f"unreachable: {type(exc).__name__}") from None
        return _answer(response)

    async def _fetch_token(self) -> tuple[str, float]:
        """Fetches a new access token and its lifetime in seconds."""
        try:
            response = await self.client.get(self._refresh_path, params=self._refresh_params)
        except httpx.HTTPError as exc:
            raise ApiError(-1, f"unreachable: {type(exc).__name__}") from None
        data = _answer(response)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise ApiError(-1, "token answer without access_token")
        return token, float(data.get("expires_in") or 7200)


def _answer(response: httpx.Response) -> dict[str, Any]:
    """Decodes a platform answer, raising ApiError for an HTTP or `errcode` failure."""
    if response.status_code != 200:
        raise ApiError(-1, f"HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise ApiError(-1, "answer is not JSON") from None
    if not isinstance(data, dict):
        raise ApiError(-1, "answer is not a JSON object")
    code = int(data.get("errcode") or 0)
    if code:
        raise ApiError(code, str(data.get("errmsg", "")))
    return data


async def _read(response: httpx.Response, limit: int) -> tuple[bytes | None, int]:
    """Reads a streamed body up to `limit` bytes: its bytes and size, or None and the size read.

    Reading stops at the first chunk past the limit: a refusal needs no more than that, and the
    rest may be any size.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            return None, size
        chunks.append(chunk)
    return b"".join(chunks), size


def _error_of(body: bytes) -> None:
    """Raises the ApiError a JSON error answer carries (nothing for an answer without one)."""
    try:
        data = json.loads(body)
    except ValueError:
        raise ApiError(-1, "answer is neither the file nor JSON") from None
    if isinstance(data, dict) and int(data.get("errcode") or 0):
        raise ApiError(int(data["errcode"]), str(data.get("errmsg", "")))


def common_failure(label: str, error: ApiError, *, quota_retry: float) -> SendResult:
    """Turns an API error both platforms share into a send result, with a clear log line."""
    if error.code in UNTRUSTED_IP:
        logger.error(
            "%s refused this server's IP address (%d): add it to the platform's IP allowlist",
            label,
            error.code,
        )
        return SendResult(DeliveryStatus.RETRY, f"untrusted IP ({error.code})", retry_after=3600)
    if error.code == API_QUOTA:
        logger.error("%s API quota exhausted (45009): holding pushes", label)
        return SendResult(DeliveryStatus.RETRY, "API quota exhausted (45009)", quota_retry)
    if error.code in TOKEN_INVALID:
        logger.error("%s still refused a freshly fetched token (%d)", label, error.code)
        return SendResult(DeliveryStatus.RETRY, f"access token refused ({error.code})", 60)
    logger.warning("%s push failed: %d %s", label, error.code, error.message)
    return SendResult(DeliveryStatus.RETRY, f"{error.code} {error.message}")
