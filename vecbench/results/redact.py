"""Keep secrets out of records, reprs and error messages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "redact_text", "public_config", "is_secret_key"]

REDACTED = "***"
_SECRET_KEY = re.compile(r"(pass(word|wd)?|secret|token|api_?key|credential|auth)", re.IGNORECASE)
_URL_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):[^@/\s]*@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&\s]*", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def is_secret_key(key: object) -> bool:
    return bool(_SECRET_KEY.search(str(key)))


def redact_text(text: str) -> str:
    """``text`` with passwords in URLs (``user:pw@``, ``?password=``) and libpq
    ``password=...`` pairs replaced by ``***``.

    >>> redact_text("postgresql://u:pw@h:5432/db?sslmode=require")
    'postgresql://u:***@h:5432/db?sslmode=require'
    >>> redact_text("host=h password='a b' dbname=x")
    'host=h password=*** dbname=x'
    """
    text = _URL_USERINFO.sub(lambda m: f"{m['head']}:{REDACTED}@", text)
    text = _QUERY_PASSWORD.sub(rf"\1{REDACTED}", text)
    return _KEYWORD_PASSWORD.sub(rf"\1{REDACTED}", text)


def public_config(config: Mapping[str, Any] | None, jsonable: Any = None) -> dict[str, Any]:
    """A store config safe to record: secret-looking keys and passwords in strings as ``***``.

    >>> public_config({"url": "http://u:pw@host:6333", "api_key": "abc", "timeout_s": 5})
    {'url': 'http://u:***@host:6333', 'api_key': '***', 'timeout_s': 5}
    """
    out: dict[str, Any] = {}
    for key, value in dict(config or {}).items():
        if is_secret_key(key) and value is not None:
            out[str(key)] = REDACTED
        elif isinstance(value, Mapping):
            out[str(key)] = public_config(value, jsonable)
        elif isinstance(value, str):
            out[str(key)] = redact_text(value)
        else:
            out[str(key)] = jsonable(value) if jsonable is not None else value
    return out
