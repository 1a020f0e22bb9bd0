"""Every error Sampark raises on purpose. The edge (functions/) maps them to HTTP once."""


class SamparkError(Exception):
    """Base of Sampark's own errors."""


class ConfigurationError(SamparkError):
    """A setting is missing or malformed: the deployment, not the caller, is at fault."""


class InvalidSignatureError(SamparkError):
    """A webhook's signature header is missing, malformed or wrong."""


class HandshakeRejectedError(SamparkError):
    """A platform's subscription handshake carried the wrong token or mode."""


class MalformedPayloadError(SamparkError):
    """The request body is not what the platform documents (e.g. not JSON)."""


class StorageUnavailableError(SamparkError):
    """A durable write failed; the caller must not acknowledge and the platform should retry."""


class DuplicateMessageError(SamparkError):
    """The platform message was recorded before: a redelivery."""


class OpenTipConflictError(SamparkError):
    """Another worker opened or moved the sender's open tip at the same moment; try again."""


class MediaRejectedError(SamparkError):
    """The media can never be stored (forbidden host, wrong type, too large): retrying will not help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MediaUnavailableError(SamparkError):
    """The media could not be fetched now (network, 5xx): retrying may help."""


class ReplyRejectedError(SamparkError):
    """The platform refused the reply for good (e.g. outside its reply window)."""


class ReplyUnavailableError(SamparkError):
    """The platform could not take the reply now; retrying may help."""


class ReplyDeferredError(SamparkError):
    """The channel cannot send yet (SMS before DLT-compliant sending exists): the acknowledgement stays pending."""


class InvalidTokenError(SamparkError):
    """The bearer token is malformed, forged, expired or meant for something else: the caller is not signed in."""


class KeysUnavailableError(SamparkError):
    """The pool's JWKS could not be fetched or read: the fault is ours or Cognito's, and retrying may help."""


class InvalidRequestError(SamparkError):
    """An officer's request names an unknown value or breaks a rule of the API: the caller must change it."""


class ForbiddenError(SamparkError):
    """The signed-in officer's role or areas do not allow this: nothing was read or changed."""


class NotFoundError(SamparkError):
    """The tip (or other record) named in the request does not exist."""


class FollowUpNotAllowedError(SamparkError):
    """The platform does not let the police write to this informant now (e.g. outside its 24-hour window)."""


class AuditUnavailableError(SamparkError):
    """The audit trail could not be written: the access it should record must not happen."""


class TipChangedError(SamparkError):
    """Others kept changing the tip while this change was applied: the officer should reload and retry."""


class SmsRefusedError(SamparkError):
    """This SMS may not be sent: no DLT template for the purpose, a value of the wrong type or length, too many
    parts, or a number that is not an Indian mobile. Only registered template text with checked values goes out."""


class TooManyRequestsError(SamparkError):
    """The caller (an address, a phone number) asked too often: retry later."""


class VerificationFailedError(SamparkError):
    """A one-time code is wrong; the caller may try again while attempts remain."""


class VerificationExpiredError(SamparkError):
    """The one-time code expired or its attempts are used up: sign up again for a new code."""


class ConflictError(SamparkError):
    """The request conflicts with the record's state (already approved, a key reused for another request)."""


class SocialPostRejectedError(SamparkError):
    """Facebook or X refused a post for good (bad request, duplicate, policy): it is recorded as failed."""


class SocialPostUnavailableError(SamparkError):
    """Facebook or X could not take a post now (5xx, 429, throttling, no answer): the queue retries it."""
