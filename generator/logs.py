"""Logging set-up: levels from ``-v``/``-q``, plain or JSON lines, and secrets redacted.

Every record passes a filter that replaces known secrets (the Fibery token, the password of
a MongoDB URI, the secrets of Fibery files: each opens its file without a token) with
``***`` before any handler sees it, so that no log line can leak one.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable

_URI_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]+:)(?P<password>[^@\s]+)(?=@)", re.IGNORECASE)
_FILE_SECRET = re.compile(r"(?P<head>/api/files/)[^\s/?#\"'<>]+")
"""A Fibery file URL: its last segment (the file's secret) opens the file without a token."""


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace each secret, any password inside a ``scheme://user:password@`` URI and the
    secret of any Fibery file URL (``/api/files/<secret>``)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _FILE_SECRET.sub(r"\g<head>***", text)
    return _URI_PASSWORD.sub(r"\g<head>***", text)


class RedactingFilter(logging.Filter):
    """Rewrite each record's message with secrets removed."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: list[str] = []
        self._known: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Redact ``secret`` from now on (the token, a MongoDB password, a file's secret)."""
        if secret and secret not in self._known:
            self._known.add(secret)
            self.secrets.append(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self.secrets)
        record.args = ()
        # A traceback logged with the record (``log.exception``, or a library's) quotes
        # exception messages: format it here, once, so that it is redacted too.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for CI logs."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


SECRETS = RedactingFilter()

MIN_FILE_SECRET = 16
"""Fibery's file secrets are UUIDs: anything much shorter is not one (and redacting ``a``
would garble every line)."""


def add_file_secret(secret: str) -> None:
    """Redact a Fibery file's secret from now on (it opens the file without the token)."""
    if len(secret) >= MIN_FILE_SECRET:
        SECRETS.add(secret)


def setup_logging(verbosity: int, *, json_format: bool = False) -> None:
    """Configure the root logger once: WARNING by default, INFO with -v, DEBUG with -vv,
    ERROR with -q."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler()
    handler.addFilter(SECRETS)
    handler.setFormatter(JsonFormatter() if json_format else logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Third-party debug output would carry request payloads; keep it at our level or above.
    for noisy in ("httpx", "httpcore", "gql"):
        logging.getLogger(noisy).setLevel(max(level, logging.INFO))
