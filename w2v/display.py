"""Untrusted text made safe to show a person: bounded reprs, URIs without credentials, escaped words.

Everything w2v prints or stores can come from someone else: a config file's values, a corpus
word, a URI typed with `KEY:SECRET@` in it. Three rules keep a terminal, a log and a manifest
sane, and each has one helper here:

- `shown(value)`: a value echoed in an error message is at most a few hundred characters
  (a YAML alias bomb once expanded to gigabytes inside `got {value!r}`);
- `redact(uri)`: the userinfo of a URI (`s3://KEY:SECRET@bucket`) never leaves the process;
- `printable(word)`: control characters (terminal escapes such as `\\x1b[31m`) are written as
  Python escapes, so a corpus word cannot recolour or rewrite the terminal or a report.

This module formats; it does not print, log or raise.
"""

from __future__ import annotations

import re
import reprlib

SHOWN_CHARS = 200  # most characters of a value echoed in a message (the repr, cut in the middle)

# One answer to `s3://KEY:SECRET@bucket/...` in every command: refused, naming the safe alternative.
CREDENTIALS_REFUSED = ("credentials in a URI are refused (they would reach logs and manifests); use the AWS "
                       "credential chain instead: AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or an instance role")

_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,31}://)[^/@\s'\"]*@")


def has_userinfo(uri: str) -> bool:
    """Whether a URI carries `user[:password]@` before its host or bucket.

    >>> has_userinfo("s3://KEY:SECRET@bucket/x"), has_userinfo("s3://bucket/a@b")
    (True, False)
    """
    return _USERINFO.match(uri) is not None


def redact(text: str) -> str:
    """`text` with the userinfo of every URI in it replaced by `***`.

    >>> redact("s3://KEY:SECRET@bucket/corpus/ and http://u:p@host:9000")
    's3://***@bucket/corpus/ and http://***@host:9000'
    """
    return _USERINFO.sub(r"\1***@", text)


class _ShortRepr(reprlib.Repr):
    """reprlib with w2v's bounds; strings are redacted before they are cut."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3  # nesting shown; deeper levels become [...]
        self.maxlist = self.maxtuple = self.maxset = self.maxdict = 6  # items shown per container
        self.maxstring = self.maxother = 80  # characters of one string or other object

    def repr_str(self, x: str, level: int) -> str:
        return super().repr_str(redact(x), level)


_short = _ShortRepr()


def shown(value: object) -> str:
    """A bounded, redacted repr for messages: nested and long values are cut with '...'.

    >>> shown([[1] * 100] * 100)
    '[[1, 1, 1, 1, 1, 1, ...], [1, 1, 1, 1, 1, 1, ...], [1, 1, 1, 1, 1, 1, ...], [1, 1, 1, 1, 1, 1, ...], [1, 1, 1, 1, 1, 1, ...], [1, 1, 1, 1, 1, 1, ...], ...]'
    >>> shown("s3://KEY:SECRET@bucket/x")
    "'s3://***@bucket/x'"
    """
    text = _short.repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS // 2] + "..." + text[-SHOWN_CHARS // 2 :]


def printable(text: str) -> str:
    r"""`text` with every non-printable character (ESC, CR, BEL, ...) written as its Python escape.

    >>> printable("esc\x1b[31mred"), printable("café")
    ('esc\\x1b[31mred', 'café')
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
