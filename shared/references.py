"""Reference numbers a citizen can read out over the phone, e.g. DHN-7K3QM."""

import secrets

from shared import config

# No 0/O, 1/I/L or U: nothing that is misread or misheard.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 5  # 30**5 = 24.3 million references per district prefix


def new_reference() -> str:
    code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{config.get('REFERENCE_PREFIX')}-{code}"
