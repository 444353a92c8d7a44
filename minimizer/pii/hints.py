"""RE2 hints derived from the Python candidate patterns themselves.

A hint is run by Arrow's C++ RE2 engine over every distinct value; only values it matches go
to Python's ``re``. The closer the hint is to the pattern, the fewer values Python sees. RE2
lacks lookarounds and backreferences, so the hint is the pattern with

- every lookaround removed (a lookaround only *restricts* a match, so without it the hint
  matches wherever the pattern does, and more);
- every backreference ``(?P=name)`` replaced by the named group's own body;
- Python's Unicode ``\\w``, ``\\W``, ``\\d`` spelled as Unicode classes (RE2's are ASCII);
- long counted repeats (``{0,40}``) loosened to ``*``.

So every span of the pattern contains a match of its hint (tests/pii check this property).
"""

from __future__ import annotations

import re

__all__ = ["re2_hint"]

_CLASS_SUBSTITUTES = (
    ("[^\\W\\d_]", "\\p{L}"),
    ("[^\\W_]", "[\\p{L}\\p{N}]"),
)
_INSIDE_CLASS = (("\\w", "\\p{L}\\p{N}_"), ("\\d", "0-9"))
_OUTSIDE_CLASS = (("\\w", "[\\p{L}\\p{N}_]"), ("\\W", "[^\\p{L}\\p{N}_]"), ("\\d", "[0-9]"))


def _group_end(text: str, start: int) -> int:
    """Index just past the group opening at ``start`` (respects escapes and classes)."""
    depth, i, in_class = 0, start, False
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if text[i + 1 : i + 2] == "]":  # "[]..." : the first "]" is literal
                i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced group in pattern")


def _strip(text: str, groups: dict[str, str]) -> str:
    out, i, in_class = [], 0, False
    while i < len(text):
        c = text[i]
        if c == "\\":
            pair = text[i : i + 2]
            table = _INSIDE_CLASS if in_class else _OUTSIDE_CLASS
            out.append(dict(table).get(pair, pair))
            i += 2
            continue
        if in_class:
            in_class = c != "]"
            out.append(c)
            i += 1
            continue
        if c == "[":
            for old, new in _CLASS_SUBSTITUTES:
                if text.startswith(old, i):
                    out.append(new)
                    i += len(old)
                    break
            else:
                in_class = True
                out.append(c)
                i += 1
            continue
        if text.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
            i = _group_end(text, i)
            continue
        if text.startswith("(?P=", i):
            end = text.index(")", i)
            out.append(f"(?:{groups[text[i + 4 : end]]})")
            i = end + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


_LONG_REPEAT = re.compile(r"\{([01]),(?:[1-9][0-9]+)\}")


def _loosen(text: str) -> str:
    """``{0,40}`` -> ``*``, ``{1,40}`` -> ``+``: a superset, and RE2 expands counted repeats
    into copies of the program (too large for a street-suffix alternation)."""
    return _LONG_REPEAT.sub(lambda m: "*" if m.group(1) == "0" else "+", text)


def re2_hint(pattern: re.Pattern[str] | str) -> str:
    """The RE2 form of a candidate pattern: no lookarounds, no backreferences."""
    text = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    ignore_case = isinstance(pattern, re.Pattern) and bool(pattern.flags & re.IGNORECASE)
    groups: dict[str, str] = {}
    for match in re.finditer(r"\(\?P<(\w+)>", text):
        end = _group_end(text, match.start())
        groups[match.group(1)] = _strip(text[match.end() : end - 1], {})
    return ("(?i)" if ignore_case else "") + _loosen(_strip(text, groups))
