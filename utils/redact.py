"""Credentials out of what a run writes: a stream URL with a user and password (`rtsp://user:pass@host/...`), or a
secret in its query (`?token=...`), is written everywhere (logs, records, result files) with those parts masked."""
from __future__ import annotations

import re
from typing import Any

MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_SECRET_QUERY = re.compile(r"(?P<key>[?&;](?:password|passwd|pwd|pass|token|access_token|key|api_key|secret|auth|"
                           r"signature|sig)=)[^&;#\s]+", re.IGNORECASE)


def mask_credentials(text: str) -> str:
    """`text` with every URL's user information and secret query values replaced by ***."""
    return _SECRET_QUERY.sub(rf"\g<key>{MASK}", _USERINFO.sub(rf"\g<scheme>{MASK}@", text))


def masked(value: Any) -> Any:
    """mask_credentials applied to every string in nested lists, tuples and dicts (keys included)."""
    if isinstance(value, str):
        return mask_credentials(value)
    if isinstance(value, dict):
        return {masked(key): masked(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(masked(item) for item in value)
    return value
