"""Firefox and add-on version numbers, compared the way release managers read them."""

import re

_TOOLKIT_PART = re.compile(r"^(\d+)([a-z]*)(\d*)(.*)$")


def version_key(version: str) -> tuple:
    """A sort key: 134.0 < 134.0.1 < 135.0a1 < 135.0b2 < 135.0 (toolkit version order)."""
    parts = version.split(".")
    key = []
    for part in parts + ["0"] * (4 - len(parts)):
        match = _TOOLKIT_PART.match(part or "0")
        if not match:
            return tuple(key) + ((0, "", 0, part),)
        number, letters, letter_number, rest = match.groups()
        # A part without letters sorts after the same number with letters (135.0b1 < 135.0).
        key.append((int(number), letters or "~", int(letter_number or 0), rest))
    return tuple(key)


def min_version_allows(minimum: str, version: str) -> bool:
    """Whether ``version`` is at least ``minimum``, where ``*`` parts match anything."""
    return version_key(minimum.replace("*", "0")) <= version_key(version)


def max_version_allows(maximum: str, version: str) -> bool:
    """Whether ``version`` is at most ``maximum``, where a trailing ``*`` matches anything."""
    if maximum == "*":
        return True
    if maximum.endswith(".*"):
        # 140.* accepts every 140 release (140.0.1 included) and nothing from 141.0 on.
        prefix = maximum[:-2]
        depth = len(prefix.split("."))
        return version_key(version)[:depth] <= version_key(prefix)[:depth]
    return version_key(version) <= version_key(maximum)
