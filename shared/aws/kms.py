"""Envelope for citizens' reply addresses: KMS Encrypt on intake, Decrypt only in the reply sender."""

from __future__ import annotations

from shared import config
from shared.aws.clients import client

# Binds every ciphertext to its purpose: a reply handle cannot be decrypted as anything else.
_CONTEXT = {"purpose": "sampark-reply-handle"}


def seal(plaintext: bytes) -> bytes:
    response = client("kms").encrypt(KeyId=config.get("REPLY_KEY_ID"), Plaintext=plaintext, EncryptionContext=_CONTEXT)
    return response["CiphertextBlob"]


def unseal(ciphertext: bytes) -> bytes:
    return client("kms").decrypt(CiphertextBlob=ciphertext, EncryptionContext=_CONTEXT)["Plaintext"]
