"""Each settings field's documentation as the documentation site's option reference reads it
(docs/hooks/reference.py `_field_docs`: the string after the field, or its `metadata["help"]`)."""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

HOOK = Path(__file__).resolve().parents[1] / "docs" / "hooks" / "reference.py"


@lru_cache(maxsize=1)
def _hook():
    spec = importlib.util.spec_from_file_location("docs_reference_hook", HOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def field_help(cls: type) -> dict[str, str]:
    """Field name -> its documentation, for the fields of `cls` that have one."""
    return {name: text for name, (text, _) in _hook()._field_docs(cls).items() if text.strip()}
