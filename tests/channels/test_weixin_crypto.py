"""Safe mode's crypto speaks wechatpy's format both ways and refuses what is not for us."""

from __future__ import annotations

import base64

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.work.crypto import WeChatCrypto as WorkCrypto

from bot.channels.weixin.checks import signature_of
from bot.channels.weixin.crypto import CryptoError, MessageCrypto
from tests.fakes.wechat_api import AES_KEY

TOKEN = "crypto-token"
APP_ID = "wx0123456789abcdef"
MESSAGE = "<xml><Content><![CDATA[签到 123456 ✓]]></Content></xml>"


def ours(receiver: str = APP_ID) -> MessageCrypto:
    """Our crypto for the test app."""
    return MessageCrypto(token=TOKEN, aes_key=AES_KEY, receiver=receiver)


@pytest.mark.parametrize("length", [0, 1, 15, 16, 27, 28, 31, 32, 33, 1000])
def test_wechatpy_reads_what_we_encrypt_at_every_padding(length: int) -> None:
    message = "签" * length
    envelope = ours().envelope(message, nonce="n0nce", timestamp="1700000000")
    fields = xmltodict.parse(envelope)["xml"]
    assert fields["MsgSignature"] == signature_of(TOKEN, "1700000000", "n0nce", fields["Encrypt"])
    plain = WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt_message(
        envelope, fields["MsgSignature"], "1700000000", "n0nce"
    )
    assert plain == message


def test_we_read_what_wechatpy_encrypts_for_the_account_and_the_corp() -> None:
    for library in (WeChatCrypto(TOKEN, AES_KEY, APP_ID), WorkCrypto(TOKEN, AES_KEY, APP_ID)):
        encrypted = xmltodict.parse(library.encrypt_message(MESSAGE, "n0nce", "1700000000"))
        assert ours().decrypt(encrypted["xml"]["Encrypt"]) == MESSAGE


def test_each_reply_has_its_own_random_prefix() -> None:
    crypto = ours()
    assert crypto.encrypt(MESSAGE) != crypto.encrypt(MESSAGE)


def test_a_payload_for_another_app_is_refused() -> None:
    encrypted = ours(receiver="wx-another-app").encrypt(MESSAGE)
    with pytest.raises(CryptoError):
        ours().decrypt(encrypted)


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "not base64!",
        base64.b64encode(b"x" * 31).decode(),
        base64.b64encode(b"x" * 64).decode(),
    ],
)
def test_garbage_is_refused_not_crashed_on(payload: str) -> None:
    with pytest.raises(CryptoError):
        ours().decrypt(payload)


def test_a_flipped_byte_is_refused() -> None:
    data = bytearray(base64.b64decode(ours().encrypt(MESSAGE)))
    # The last block's padding comes out wrong when the block before it is altered.
    data[-BLOCK_BEFORE_LAST] ^= 0x01
    with pytest.raises(CryptoError):
        ours().decrypt(base64.b64encode(bytes(data)).decode())


BLOCK_BEFORE_LAST = 17


@pytest.mark.parametrize("key", ["short", "!" * 43, AES_KEY[:-1] + "="])
def test_a_malformed_key_is_a_configuration_error(key: str) -> None:
    with pytest.raises(ValueError, match="AES key"):
        MessageCrypto(token=TOKEN, aes_key=key, receiver=APP_ID)
