"""Email addresses as users write them (config ``[email] from``, watchlist ``[deliver] email``,
``digest --test``): each one plain RFC 5322 addr-spec, ``name@example.org``.

Anything more is refused rather than interpreted: a list, a display name, angle brackets,
comments, quoting, a domain literal, whitespace or a control character. A value such as
``"a,spion4@evil.example"`` would otherwise reach the SMTP envelope as one recipient and the
To: header as two. Non-ASCII letters are allowed where RFC 6532 allows them (``læser@æbler.dk``;
the mailer sends such addresses with SMTPUTF8).
"""

from __future__ import annotations

import unicodedata
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Annotated

from pydantic import AfterValidator

_LIST = ",;"
_DECORATION = '<>()[]"\\'
# Control and format characters (NUL, CR, LF, bidi overrides) and every kind of whitespace.
_INVISIBLE = {"Cc", "Cf", "Zs", "Zl", "Zp"}


def addr_spec(value: str) -> str:
    """``value`` if it is one plain address; ValueError saying what is wrong and how to fix it."""
    problem = _problem(value)
    if problem:
        raise ValueError(f"{value!r} is not one plain email address like name@example.org: {problem}")
    return value


EmailAddress = Annotated[str, AfterValidator(addr_spec)]


def _problem(value: str) -> str | None:
    if not value:
        return "it is empty"
    if any(char in _LIST for char in value):
        return "give each address as its own list entry"
    if any(char in _DECORATION for char in value):
        return "write the bare address, without a name, <>, quotes, brackets or comments"
    for position, char in enumerate(value, start=1):
        if unicodedata.category(char) in _INVISIBLE:
            name = unicodedata.name(char, "").lower() or f"control character U+{ord(char):04X}"
            return f"remove the {name} at position {position}"
    local, _, domain = value.partition("@")
    if "@" not in value or "@" in domain:
        return "it needs exactly one @"
    if not local:
        return "the part before @ is missing"
    if "." not in domain:
        return "the part after @ needs a domain like example.org"
    # The stdlib parser reports non-ASCII letters in the local part as a defect although RFC
    # 6532 allows them wherever ASCII letters go: check the address with those letters as x.
    skeleton = "".join(char if char.isascii() else "x" for char in value)
    try:
        Address(addr_spec=skeleton)
    except (ValueError, HeaderParseError):  # email's defects are ValueErrors
        return "a dot is misplaced (at the start or end of a part, or two in a row) or a character is not allowed"
    return None
