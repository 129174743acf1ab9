"""Configuration: ``kb.toml`` (site options) and the Fibery connection (URL, space, token).

Precedence is option > environment > ``kb.toml`` > default. The token is read from
``FIBERY_TOKEN`` or from a file (``--token-file``), never from a command-line argument, and
is held as a ``SecretStr`` so that it cannot end up in a repr, a log line or an error.
Everything is validated with pydantic; a bad value is reported as one line naming the key.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from .errors import ConfigError
from .naming import url_segment

CONFIG_FILE = "kb.toml"
DEFAULT_PAGE_SIZE = 500
"""Entities per list request. Fibery's own default is 100 and no maximum is documented;
public clients page with 500–3000. 500 keeps a response with inline rich text to a few MB
(well inside a 30 s timeout) while a 10,000-entity space needs only ~20 list requests."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _check_http_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL, e.g. https://acme.fibery.io")
    return value.strip()


class SiteConfig(_Strict):
    """The keys of ``kb.toml``. Unknown keys are errors: a typo in ``hide_fields`` must not
    publish a private field."""

    title: str | None = Field(default=None, description="Site title; defaults to the space name.")
    base_url: str | None = Field(
        default=None, description="URL the site is served under, e.g. https://org.github.io/repo/."
    )
    include_databases: list[str] = Field(
        default_factory=list, description="Publish only these databases (all when empty)."
    )
    exclude_databases: list[str] = Field(default_factory=list, description="Never publish these.")
    hide_fields: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Fields never published: {"*": [...]} for every database, or per database name.',
    )
    page_size: Annotated[int, Field(ge=1, le=5000)] = DEFAULT_PAGE_SIZE
    segments_database: str = Field(default="Process Segments", description="Database of `gen segments`.")
    timeout: Annotated[float, Field(gt=0, le=600)] = Field(
        default=30.0, description="Seconds to wait for one Fibery answer."
    )
    retries: Annotated[int, Field(ge=0, le=10)] = Field(default=5, description="Retries on 429, 5xx and timeouts.")
    requests_per_second: Annotated[float, Field(gt=0, le=3)] = Field(
        default=3.0, description="Client-side request budget (Fibery allows 3/s per token)."
    )
    content_dir: str = Field(default="content", description="Folder of hand-written Markdown pages.")
    templates_dir: str = Field(default="templates", description="Folder of template overrides.")

    _check_base_url = field_validator("base_url")(classmethod(lambda cls, v: _check_http_url(v)))

    @field_validator("hide_fields", mode="before")
    @classmethod
    def _global_list(cls, value: Any) -> Any:
        """Accept a plain list as the global form: ``hide_fields = ["Internal notes"]``."""
        return {"*": value} if isinstance(value, list) else value


class Connection(_Strict):
    """Where the live workspace is read from."""

    fibery_url: str
    space: str
    token: SecretStr

    _check_url = field_validator("fibery_url")(classmethod(lambda cls, v: _check_http_url(v).rstrip("/")))

    @field_validator("space")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @property
    def space_path(self) -> str:
        """The space as it appears in URLs: ``Knowledge Base`` → ``Knowledge_Base``."""
        return url_segment(self.space)

    @property
    def endpoint(self) -> str:
        """The space's GraphQL endpoint."""
        return f"{self.fibery_url}/api/graphql/space/{self.space_path}"


def _describe(error: ValidationError, source: str) -> str:
    """Render pydantic's first error as ``source: key 'x': what is wrong``."""
    first = error.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    message = message.removeprefix("Value error, ")
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{source}: key '{key}': {message}{more}"


def load_site_config(root: Path = Path("."), path: Path | None = None) -> SiteConfig:
    """Read and validate ``kb.toml`` (optional: defaults when absent)."""
    path = path or root / CONFIG_FILE
    if not path.is_file():
        return SiteConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(path))) from None


def _read_token_file(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"--token-file {path}: cannot read: {exc.strerror}") from None
    if not token:
        raise ConfigError(f"--token-file {path}: the file is empty")
    return token


def load_connection(
    *, fibery_url: str | None = None, space: str | None = None, token_file: Path | None = None
) -> Connection:
    """Combine options and environment into a validated ``Connection``.

    Raises ``ConfigError`` naming the first missing setting and how to provide it.
    """
    url = fibery_url or os.environ.get("FIBERY_URL")
    space_name = space or os.environ.get("FIBERY_SPACE")
    token = _read_token_file(token_file) if token_file else os.environ.get("FIBERY_TOKEN")
    for value, name, option in (
        (url, "FIBERY_URL", "--fibery-url"),
        (space_name, "FIBERY_SPACE", "--space"),
        (token, "FIBERY_TOKEN", "--token-file"),
    ):
        if not value:
            raise ConfigError(f"{name} is not set: set the environment variable or use {option}")
    try:
        return Connection(fibery_url=url, space=space_name, token=token)
    except ValidationError as exc:
        names = {"fibery_url": "FIBERY_URL", "space": "FIBERY_SPACE", "token": "FIBERY_TOKEN"}
        first = exc.errors()[0]
        name = names.get(str(first["loc"][0]), str(first["loc"][0]))
        raise ConfigError(f"{name}: {first['msg'].removeprefix('Value error, ')}") from None
