"""Indian mobile numbers as people type them, normalised to E.164 (+91XXXXXXXXXX) with Google's libphonenumber.

``phonenumberslite`` is the same library as ``phonenumbers`` without its geocoding and carrier data, which Sampark
does not use (a 0.5 MB wheel instead of 2.6 MB, imported on first use only).
"""

from __future__ import annotations

from shared.errors import InvalidRequestError

# Longer than any way of writing a number ("(+91) 098350-11111 "): the rest is not worth parsing.
_MAX_CHARS = 32


def indian_mobile_e164(raw: object) -> str:
    """'98350 11111', '+91-98350-11111', '098350 11111', '0091 98350 11111' → '+919835011111'.

    InvalidRequestError for anything that is not a valid Indian mobile number (landlines and foreign numbers
    included: SMS alerts and one-time codes go to mobiles)."""
    import phonenumbers

    if not isinstance(raw, str) or not raw.strip() or len(raw) > _MAX_CHARS:
        raise InvalidRequestError("phone must be an Indian mobile number, e.g. 98350 11111")
    try:
        number = phonenumbers.parse(raw, "IN")
    except phonenumbers.NumberParseException:
        raise InvalidRequestError("phone is not a phone number") from None
    mobile_types = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    if (
        number.country_code != 91
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in mobile_types
    ):
        raise InvalidRequestError("phone must be an Indian mobile number, e.g. 98350 11111")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
