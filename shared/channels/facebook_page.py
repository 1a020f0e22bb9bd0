"""The police Facebook Page: posts through the Graph API, signed with the Page access token.

The token goes in the Authorization header, never in the URL (URLs end up in logs and error messages), and is
never logged.
"""

from __future__ import annotations

from typing import Any

from shared import config, http
from shared.channels._fields import text as _str
from shared.errors import SocialPostRejectedError, SocialPostUnavailableError

API_URL_SETTING = "GRAPH_API_URL"
# https://developers.facebook.com/docs/graph-api/guides/error-handling: 1 unknown (retry), 2 service, 4/17/32/613
# rate limits, 368 temporarily blocked for policy reasons.
_TRANSIENT_ERROR_CODES = {1, 2, 4, 17, 32, 368, 613}


def configured() -> bool:
    """Posting is on where the Page and its token are configured (the secret in AWS, make run's fake locally)."""
    return bool(config.get_optional("MESSENGER_PAGE_ID") and config.get_optional("MESSENGER_PAGE_ACCESS_TOKEN"))


# https://developers.facebook.com/docs/graph-api/reference/page/photos/#publish
# POST /{page-id}/photos {"url": "<public JPEG>", "caption": "…"}  ->  {"id": "<photo id>", "post_id": "<page>_<post>"}
def post_photo(photo_url: str, caption: str) -> str:
    """Post the photo (Facebook fetches it from ``photo_url``) with its caption; the Page post's id."""
    body = _post("photos", {"url": photo_url, "caption": caption})
    return _str(body.get("post_id")) or _str(body.get("id"))


# https://developers.facebook.com/docs/graph-api/reference/page/feed/#publish
# POST /{page-id}/feed {"message": "…"}  ->  {"id": "<page>_<post>"}
def post_text(message: str) -> str:
    return _str(_post("feed", {"message": message}).get("id"))


def _post(edge: str, payload: dict[str, Any]) -> dict[str, Any]:
    url = f"{config.get_url(API_URL_SETTING)}/{config.get('MESSENGER_PAGE_ID')}/{edge}"
    headers = {"Authorization": f"Bearer {config.get('MESSENGER_PAGE_ACCESS_TOKEN')}"}
    try:
        response = http.request("POST", url, headers=headers, json_body=payload)
    except http.HttpError as error:
        raise SocialPostUnavailableError(str(error)) from error
    body = response.json() if isinstance(response.json(), dict) else {}
    if response.status == 200 and (body.get("id") or body.get("post_id")):
        return body
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    code, subcode = error.get("code"), error.get("error_subcode")
    reason = f"Graph API answered {response.status} (code {code}, subcode {subcode})"
    if response.status >= 500 or response.status == 429 or code in _TRANSIENT_ERROR_CODES:
        raise SocialPostUnavailableError(reason)
    # e.g. 190 (the token expired or was revoked), 200 (no permission to post), 100 (the photo URL was refused)
    raise SocialPostRejectedError(reason)
