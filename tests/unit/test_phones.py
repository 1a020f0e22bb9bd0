"""Indian mobile numbers in every common form become one E.164 number; anything else is refused."""

from __future__ import annotations

import pytest

from shared.errors import InvalidRequestError
from shared.phones import indian_mobile_e164


@pytest.mark.parametrize(
    "raw",
    [
        "98350 11111",
        "9835011111",
        "+91-98350-11111",
        "+91 98350 11111",
        "098350 11111",
        "0091 98350 11111",
        "91 98350 11111",
        "919835011111",
        "(+91) 98350-11111",
        " 98350 11111 ",
    ],
)
def test_common_forms_of_one_mobile_number_become_the_same_e164(raw):
    assert indian_mobile_e164(raw) == "+919835011111"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0326 2311111", "Indian mobile"),  # a Dhanbad landline
        ("+1 202 555 0143", "Indian mobile"),  # a US number
        ("+91 12345 67890", "Indian mobile"),  # no Indian mobile starts with 1
        ("9835", "Indian mobile"),
        ("abc", "not a phone number"),
        ("", "Indian mobile"),
        ("9" * 40, "Indian mobile"),
        (9835011111, "Indian mobile"),  # JSON number, not text
        (None, "Indian mobile"),
    ],
)
def test_anything_but_an_indian_mobile_is_refused(raw, reason):
    with pytest.raises(InvalidRequestError, match=reason):
        indian_mobile_e164(raw)


def test_the_library_is_imported_on_first_use_only():
    import subprocess
    import sys

    code = "import sys, shared.phones; print('phonenumbers' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
