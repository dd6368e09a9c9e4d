"""Checks on a platform callback before anything reads it: size, XML safety, signatures, freshness.

The official account and the WeCom app sign callbacks alike (SHA-1 over the sorted token,
timestamp, nonce and payload) and send the same flat XML envelope.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from xml.etree.ElementTree import ParseError, fromstring

from starlette.requests import Request

# Platform callbacks are at most a few kilobytes; the shared server's 1 MiB cap is far looser.
MAX_BODY_BYTES = 64 * 1024
# How old (or how far in the future) a signed request may be; nonces are remembered this long.
TIMESTAMP_WINDOW = timedelta(minutes=5)

_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SIGNATURE = re.compile(r"^[0-9a-fA-F]{40}$")


class RefusedError(Exception):
    """A callback request that must not be processed: answered with `status`, logged with why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """Reads the request body, refusing it (413) as soon as it grows past `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise RefusedError(413, "body too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RefusedError(413, "body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def guard_xml(raw: bytes | str) -> str:
    """Returns the XML as text, refusing (400) non-UTF-8 bodies and any DTD or entity declaration.

    Refusing every DOCTYPE, before any parser sees the text, rules out entity expansion bombs and
    external entities whatever the parser does; decoding first means no other encoding (UTF-16,
    say) can hide the declaration from this check, and the parsers are then fed this text.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise RefusedError(400, "body is not UTF-8") from None
    if _declares(text):
        raise RefusedError(400, "XML with a DTD or entity declaration")
    return text


# Markup whose content is not markup: a member may well type "<!DOCTYPE" into a message.
_OPAQUE = (("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>"))


def _declares(text: str) -> bool:
    """Tells whether XML text has a `<!` declaration (DOCTYPE, ENTITY, …) outside opaque sections.

    One left-to-right pass, as a parser reads it: comments, CDATA sections and processing
    instructions are skipped whole, and any other `<!` is a declaration (or not XML at all).
    An unterminated section runs to the end; one that starts with `<!` is refused.
    """
    if text.count("<!") == text.count("<![CDATA["):
        # Every `<!` opens a CDATA section (the platforms' usual markup): nothing declares.
        return False
    position = 0
    while (start := text.find("<", position)) != -1:
        for opener, closer in _OPAQUE:
            if text.startswith(opener, start):
                end = text.find(closer, start + len(opener))
                if end == -1:
                    return opener.startswith("<!")
                position = end + len(closer)
                break
        else:
            if text.startswith("<!", start):
                return True
            position = start + 1
    return False


_ENCRYPT_OPEN = b"<Encrypt>"
_ENCRYPT_CLOSE = b"</Encrypt>"
_CDATA_OPEN = b"<![CDATA["
_CDATA_CLOSE = b"]]>"
# An encrypted message is base64 of at most a few kilobytes; nothing longer is looked at.
MAX_ENCRYPTED_BYTES = 16 * 1024
_BASE64 = re.compile(rb"[A-Za-z0-9+/]+={0,2}")


def encrypted_field(body: bytes, limit: int = MAX_ENCRYPTED_BYTES) -> str:
    """Finds the `<Encrypt>` value of a callback body without parsing it (400 when there is none).

    Two substring searches (linear, in C) and one bounded base64 match: the only work done on a
    body before its signature is checked. A forged signature over the value found is refused
    next, so which `<Encrypt>` element is found does not matter: only a signed one gets through.
    """
    start = body.find(_ENCRYPT_OPEN)
    if start == -1:
        raise RefusedError(400, "message without Encrypt")
    start += len(_ENCRYPT_OPEN)
    window = limit + len(_CDATA_OPEN) + len(_CDATA_CLOSE)
    end = body.find(_ENCRYPT_CLOSE, start, start + window + 1)
    if end == -1:
        raise RefusedError(400, "Encrypt unterminated or too long")
    value = body[start:end]
    if value.startswith(_CDATA_OPEN) and value.endswith(_CDATA_CLOSE):
        value = value[len(_CDATA_OPEN) : -len(_CDATA_CLOSE)]
    if not value or len(value) > limit or not _BASE64.fullmatch(value):
        raise RefusedError(400, "Encrypt is not base64")
    return value.decode("ascii")


def parse_envelope(text: str) -> dict[str, str]:
    """Parses flat callback XML (`<xml><Name>value</Name>…</xml>`) into a dict (400 if not)."""
    return read_envelope(text)[0]


def read_envelope(text: str) -> tuple[dict[str, str], bool]:
    """Parses callback XML into its text fields; tells whether they are all it holds (400 if not XML).

    A field is a child of `<xml>` with text and nothing else (stripped, as xmltodict reads it);
    an empty one is left out; a nested, repeated or attributed one too, and the XML is then not
    flat (the platform's own parser reads it).
    """
    # ElementTree's expat reads in C what xmltodict reads through Python callbacks; `guard_xml`
    # has refused any DTD before this, so no entity can reach the parser.
    try:
        root = fromstring(text)  # noqa: S314 (guard_xml refused every DTD first)
    except ParseError:
        raise RefusedError(400, "malformed XML") from None
    if root.tag != "xml" or root.attrib or (not len(root) and (root.text or "").strip()):
        raise RefusedError(400, "XML without an <xml> root")
    fields: dict[str, str] = {}
    seen: set[str] = set()
    flat = True
    for child in root:
        name = child.tag
        if name in seen or len(child) or child.attrib:
            fields.pop(name, None)
            flat = False
        elif value := (child.text or "").strip():
            fields[name] = value
        seen.add(name)
    return fields, flat


def signature_of(*parts: str) -> str:
    """Computes the platforms' SHA-1 signature: the parts sorted, joined, hashed."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 (their protocol)


def check_signature_format(given: str | None) -> str:
    """Refuses (403) a missing or malformed signature; returns it."""
    if not given or not _SIGNATURE.fullmatch(given):
        raise RefusedError(403, "missing or malformed signature")
    return given


def check_signature(given: str | None, token: str, *parts: str) -> None:
    """Refuses (403) unless `given` is the signature of the token and parts (constant time)."""
    given = check_signature_format(given)
    expected = signature_of(token, *parts)
    if not hmac.compare_digest(expected.encode(), given.lower().encode()):
        raise RefusedError(403, "bad signature")


def signed_parameters(query: Mapping[str, str]) -> tuple[str, str]:
    """Returns the timestamp and nonce of a callback, refusing (403) malformed ones."""
    timestamp = query.get("timestamp", "")
    nonce = query.get("nonce", "")
    if not _TIMESTAMP.fullmatch(timestamp) or not _NONCE.fullmatch(nonce):
        raise RefusedError(403, "missing or malformed timestamp or nonce")
    return timestamp, nonce


def check_fresh(timestamp: str, now: datetime, window: timedelta = TIMESTAMP_WINDOW) -> None:
    """Refuses (403) a request whose timestamp lies outside the window around `now`."""
    if abs(now.timestamp() - int(timestamp)) > window.total_seconds():
        raise RefusedError(403, "timestamp outside the window")


def nonce_key(timestamp: str, nonce: str) -> str:
    """Names a signed request's nonce as a delivery key: any second use of it is refused."""
    return f"nonce:{timestamp}:{nonce}"


def delivery_key(fields: Mapping[str, str]) -> str | None:
    """Names one delivery for deduplication: its MsgId, else sender, time and event."""
    sender = fields.get("FromUserName", "")
    if not sender:
        return None
    msg_id = fields.get("MsgId", "").strip()
    if msg_id and msg_id != "0":
        return f"msg:{msg_id}"
    event = fields.get("Event", "").lower()
    return f"event:{sender}:{fields.get('CreateTime', '')}:{event}"


def is_event(fields: Mapping[str, str]) -> bool:
    """Tells whether a message is an event (which, unlike a message, expects no reply)."""
    return fields.get("MsgType", "").lower() == "event"
