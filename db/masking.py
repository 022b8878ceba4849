"""Masking secrets in text and configs: a store URL's password, credential-looking URL query
parameters and the values of credential-named options (`policy.api_key`).

Pure functions on strings and containers, in the lowest layer, so that every writer of a file
(analysis reports, dataset cards, the viewer's site) can mask what it writes without importing the
application; journeyforge/credentials.py re-exports them beside the scrubbing of Hydra's files.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MASK = "***"

# Option names whose values are credentials wherever they appear in a config (`policy.api_key`,
# a `+store.password=...` someone adds, `hf_token`); "EMPTY" is the OpenAI client's placeholder, not a
# secret. `token` only at the end of a name: `policy.tokenizer` and `train.student.tokenizer` name a
# folder or a kind ("phrases"), and masking them hid the settings and scrubbed those words from lines.
_SECRET_KEY = re.compile(r"pass(word|wd)?$|pwd$|secret|token$|api[_-]?key|credential", re.I)
_NOT_SECRET = {"", "EMPTY", MASK}
# A URL with a user:password@ part, e.g. postgresql+psycopg://user:pw@host/db.
# The password runs to the token's last "@" (an unencoded "@" in a password is read that way by
# SQLAlchemy too).
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<pw>\S*?)(?P<at>@)(?=[^@\s]*(?:\s|$))")


def _secret_query_value(match: re.Match) -> str:
    name, value = match.group("name"), match.group("value")
    return f"{name}={MASK}" if _SECRET_KEY.search(name) and value not in _NOT_SECRET else match.group(0)


_QUERY_PARAM = re.compile(r"(?<=[?&])(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)=(?P<value>[^&#\s]*)")


def mask_text(text: str) -> str:
    """`text` with every URL password and every credential-looking `?name=value` query value masked."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + (MASK if m.group("pw") else "") + m.group("at"), text)
    if "://" in text and "?" in text:
        text = _QUERY_PARAM.sub(_secret_query_value, text)
    return text


def mask_config(value: Any, key: str = "") -> Any:
    """A copy of a (resolved) config container with secrets masked: values of credential-named keys
    and passwords inside URL strings."""
    if isinstance(value, dict):
        return {k: mask_config(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_config(v, key) for v in value]
    if isinstance(value, str):
        if _SECRET_KEY.search(key) and value not in _NOT_SECRET:
            return MASK
        return mask_text(value)
    return value


def secrets_in(value: Any, key: str = "") -> set[str]:
    """The literal secrets inside a config container (passwords in URLs, credential-named values),
    so that files written by other libraries (Hydra's saved config) can be scrubbed of them."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            found |= secrets_in(v, str(k))
    elif isinstance(value, (list, tuple)):
        for v in value:
            found |= secrets_in(v, key)
    elif isinstance(value, str):
        if _SECRET_KEY.search(key) and value not in _NOT_SECRET:
            found.add(value)
        for m in _URL_PASSWORD.finditer(value):
            if m.group("pw"):
                found.add(m.group("pw"))
        if "://" in value:
            query = urlsplit(value).query if "?" in value else ""
            found |= {v for k, v in parse_qsl(query) if _SECRET_KEY.search(k) and v not in _NOT_SECRET}
    return {s for s in found if len(s) >= 1}


def scrub_text(text: str, secrets: set[str]) -> str:
    """`text` with every literal secret replaced by the mask (and URL passwords masked)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return mask_text(text)


def masked_yaml(config: Any) -> str:
    """A config container (or an OmegaConf config, resolved) as YAML text, secrets masked: for the
    resolved-config blocks of reports and cards."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(config, (DictConfig, ListConfig)):
        config = OmegaConf.to_container(config, resolve=True)
    return OmegaConf.to_yaml(OmegaConf.create(mask_config(config)))
