"""Safe mode's message crypto, as both platforms specify it, with the key's cipher built once.

A payload is AES-256-CBC over: 16 random bytes, the message's length (4 bytes, big-endian),
the message, and the app id (WeChat) or corp id (WeCom) it is for; padded PKCS#7-style to a
multiple of 32 bytes; base64 in the XML. The key is the 43-character EncodingAESKey decoded
from base64, and the IV is its first 16 bytes. wechatpy implements the same format but builds
a new cipher and draws its random prefix one character at a time for every message, which
cost a quarter of a check-in's callback; the fake platforms in the tests decrypt what this
module encrypts with wechatpy, and the other way round.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import struct
from html import escape

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.channels.weixin.checks import signature_of

BLOCK = 32
_LENGTH = struct.Struct(">I")


class CryptoError(ValueError):
    """A payload that does not decrypt, or not for this app or corp, under this key."""


class MessageCrypto:
    """Encrypts and decrypts one app's (or corp's) payloads with its token and AES key."""

    def __init__(self, *, token: str, aes_key: str, receiver: str) -> None:
        try:
            key = base64.b64decode(aes_key + "=", validate=True)
        except binascii.Error:
            raise ValueError("the AES key is not 43 characters of base64") from None
        if len(key) != 32:
            raise ValueError("the AES key is not 43 characters of base64")
        self._cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16]))
        self._token = token
        self._receiver = receiver.encode()

    def decrypt(self, encrypted: str) -> str:
        """Returns the message inside a payload (its signature already checked by the caller)."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise CryptoError("not base64") from None
        if not data or len(data) % BLOCK:
            raise CryptoError("not whole blocks")
        decryptor = self._cipher.decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CryptoError("bad padding")
        body = plain[16:-pad]
        if len(body) < _LENGTH.size:
            raise CryptoError("too short")
        (length,) = _LENGTH.unpack_from(body)
        message, receiver = body[4 : 4 + length], body[4 + length :]
        if len(message) != length or receiver != self._receiver:
            raise CryptoError("for another app or corp")
        try:
            return message.decode()
        except UnicodeDecodeError:
            raise CryptoError("not UTF-8") from None

    def encrypt(self, message: str) -> str:
        """Returns the base64 payload carrying `message` for this app or corp."""
        raw = message.encode()
        plain = secrets.token_bytes(16) + _LENGTH.pack(len(raw)) + raw + self._receiver
        pad = BLOCK - len(plain) % BLOCK
        encryptor = self._cipher.encryptor()
        data = encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
        return base64.b64encode(data).decode()

    def envelope(self, message: str, *, nonce: str, timestamp: str) -> str:
        """Returns the signed XML envelope of an encrypted passive reply."""
        encrypted = self.encrypt(message)
        signature = signature_of(self._token, timestamp, nonce, encrypted)
        # The payload is base64 and the signature hex; the nonce and timestamp came signed.
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{escape(timestamp)}</TimeStamp>"
            f"<Nonce><![CDATA[{escape(nonce)}]]></Nonce></xml>"
        )
