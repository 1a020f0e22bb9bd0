"""Envelope for what Sampark may need again in clear: citizens' reply addresses and subscribers' numbers."""

from __future__ import annotations

from shared import config
from shared.aws.clients import client

# The encryption context binds every ciphertext to its purpose: a reply handle cannot be decrypted as a subscriber's
# number, and IAM grants kms:Decrypt per purpose (only the reply sender may open reply handles).
REPLY_HANDLE = "sampark-reply-handle"
SUBSCRIBER_CONTACT = "sampark-subscriber-contact"


def seal(plaintext: bytes, purpose: str = REPLY_HANDLE) -> bytes:
    response = client("kms").encrypt(
        KeyId=config.get("REPLY_KEY_ID"), Plaintext=plaintext, EncryptionContext={"purpose": purpose}
    )
    return response["CiphertextBlob"]


def unseal(ciphertext: bytes, purpose: str = REPLY_HANDLE) -> bytes:
    return client("kms").decrypt(CiphertextBlob=ciphertext, EncryptionContext={"purpose": purpose})["Plaintext"]
