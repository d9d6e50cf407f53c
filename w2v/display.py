"""Untrusted text made safe to show a person: bounded reprs, URIs without credentials, escaped words.

Everything w2v prints or stores can come from someone else: a config file's values, a corpus
word, a URI typed with `KEY:SECRET@` in it. Three rules keep a terminal, a log and a manifest
sane, and each has one helper here:

- `shown(value)`: a value echoed in an error message is at most a few hundred characters
  (a YAML alias bomb once expanded to gigabytes inside `got {value!r}`);
- `redact(uri)`: the userinfo of a URI (`s3://KEY:SECRET@bucket`) and a presigned URL's signature never
  leave the process;
- `printable(word)`: control characters (terminal escapes such as `\\x1b[31m`) are written as
  Python escapes, so a corpus word cannot recolour or rewrite the terminal or a report.

This module formats; it does not print, log or raise.
"""

from __future__ import annotations

import re
import reprlib

SHOWN_CHARS = 200  # most characters of a value echoed in a message (the repr, cut in the middle)

# One answer to a URI with credentials in it, in every command: refused, naming the safe alternative.
_REFUSED = "credentials in a URI are refused (they would reach logs and manifests)"
_INSTEAD = {"s3": "use the AWS credential chain instead: AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
                  "an instance role",
            "http": "serve the file without a login, or give a presigned URL (its signature is never shown)",
            "mlflow": "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD instead"}

# Userinfo: after `scheme://`, everything up to the LAST `@` before the host, so a secret holding `/`, `@` or
# `+` (half of AWS secret keys hold a `/`) is hidden whole: KEY:SECRET with anything in SECRET (tried first:
# it reaches further), else a login without `/` (`tok@en@host`). A path with `@` after `host:port/` is taken
# as userinfo too: hiding a little too much is the safe mistake. The host runs to `/`, `?`, `#` or the end.
_URI_END = "\\s'\"<>"  # characters that end a URI inside a message
_USERINFO = re.compile(rf"([A-Za-z][A-Za-z0-9+.-]{{0,31}}://)(?:[^{_URI_END}/@:]*:[^{_URI_END}]*|[^{_URI_END}/]*)@"
                       rf"(?=[^{_URI_END}/?#@]*(?:[/?#{_URI_END}]|$))")
# Query parameters that carry a secret: presigned S3 and GCS URLs (X-Amz-Signature, X-Amz-Security-Token,
# X-Amz-Credential, Signature, AWSAccessKeyId, X-Goog-*), Azure SAS (sig), OAuth and API keys (token, key).
# A value runs to `&`, `#`, `;`, the URI's end or a `: ` (as in a message: `URI: reason`).
_SECRET_NAME = ("(?:[\\w.-]*[-_.])?(?:signature|sig|token|credential|secret|password|passwd|key|apikey|accesskeyid|"
                "awsaccesskeyid|auth|authorization)")
_SECRET_PARAMETER = re.compile(rf"([?&;]{_SECRET_NAME}=)(?:[^&#;:{_URI_END}]|:(?![{_URI_END}]|$))*", re.IGNORECASE)


def has_userinfo(uri: str) -> bool:
    """Whether a URI carries `user[:password]@` before its host or bucket.

    >>> has_userinfo("s3://KEY:SECRET@bucket/x"), has_userinfo("s3://bucket/a@b"), has_userinfo("s3://K:a/b@c/x")
    (True, False, True)
    """
    return userinfo(uri) is not None


def userinfo(uri: str) -> str | None:
    """The `user[:password]` a URI carries before its host, or None: what `redact` hides.

    >>> userinfo("http://admin:pa/ss@head:8265"), userinfo("http://head:8265")
    ('admin:pa/ss', None)
    """
    found = _USERINFO.match(uri)
    return uri[found.end(1) : found.end() - 1] if found else None


def redact(text: str) -> str:
    """`text` with the userinfo and the secret query parameters of every URI in it replaced by `***`.

    The one rule for every URI w2v prints, logs, raises or stores (manifest, model card, MLflow).

    >>> redact("s3://KEY:SE/C@R+ET@bucket/corpus/ and http://u:p@host:9000")
    's3://***@bucket/corpus/ and http://***@host:9000'
    >>> redact("https://b.s3.amazonaws.com/x.txt?X-Amz-Credential=AKIA%2F&X-Amz-Signature=f00d&x-id=GetObject")
    'https://b.s3.amazonaws.com/x.txt?X-Amz-Credential=***&X-Amz-Signature=***&x-id=GetObject'
    """
    return _SECRET_PARAMETER.sub(r"\1***", _USERINFO.sub(r"\1***@", text))


def redacted(value: object) -> object:
    """`value` with `redact` applied to every string in it, dict keys and nested lists included: a manifest
    or a run's parameters as they may be stored.

    >>> redacted({"corpus": ["https://h/x?sig=abc"], "epochs": 5})
    {'corpus': ['https://h/x?sig=***'], 'epochs': 5}
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redacted(k): redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redacted(v) for v in value)
    return value


def credentials_refused(uri: str, kind: str | None = None) -> str:
    """The one-line refusal of a URI with credentials in it (shown redacted), with the safe way for its `kind`
    ("s3", "http" or "mlflow"; default: from the scheme, so an HTTP URL is never sent to the AWS chain).

    >>> credentials_refused("http://user:pw@host/x.txt")
    'http://***@host/x.txt: credentials in a URI are refused (they would reach logs and manifests); serve the file without a login, or give a presigned URL (its signature is never shown)'
    """
    kind = kind or ("http" if uri.lower().startswith(("http://", "https://")) else "s3")
    return f"{redact(uri)}: {_REFUSED}; {_INSTEAD[kind]}"


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
