"""Configuration: ``kb.toml`` (site options) and the Fibery connection (URL, space, token).

Precedence is option > environment > ``kb.toml`` > default. The token is read from
``FIBERY_TOKEN`` or from a file (``--token-file``), never from a command-line argument, and
is held as a ``SecretStr`` so that it cannot end up in a repr, a log line or an error.
Everything is validated with pydantic; a bad value is reported as one line naming the key.
"""

from __future__ import annotations

import os
import tomllib
from importlib.resources import files as package_files
from pathlib import Path
from typing import Annotated, Any, Literal
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
from .model import FieldKind
from .naming import url_segment

CONFIG_FILE = "kb.toml"
DEFAULT_PAGE_SIZE = 2999
"""Entities per list request to start with: the largest page public clients are seen to use
(Fibery's own default is 100 and no maximum is documented), asking 3000 rows with the one
that tells whether more follow. A cold build of N entities in D databases makes about
N/3000 + D + 2 requests (10,000 entities in 10 databases: 12, ~4 s at 3 requests/s, against
22 at 500 a page). A large page with inline rich text can take long to answer: a page that
times out is asked again at half the size, and the size each database ended with is
remembered in the fetch cache (``FetchMeta.page_sizes``) for its next full read."""
DEFAULT_CACHE_DIR = ".cache/fibery-kb"


DEFAULT_MAX_FILE_SIZE = 25_000_000
"""25 MB: screenshots, PDFs and spreadsheets fit; videos and disk images do not."""
DEFAULT_FILE_TYPES = (
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif",
    "application/pdf", "text/plain", "text/csv", "text/markdown",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "video/mp4", "video/webm", "audio/mpeg", "audio/ogg",
)  # fmt: skip
"""Never SVG or HTML (they run scripts when opened from the site), nor anything executable."""


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
    publish_when: dict[str, dict[str, Annotated[list[str], Field(min_length=1)]]] = Field(
        default_factory=dict,
        description='Publish only entities whose state or select is listed: {"Guides" = {"State" = ["Published"]}}.',
    )
    expect_kinds: dict[str, dict[str, FieldKind]] = Field(
        default_factory=dict,
        description='Field kinds to check: {"Guides" = {"Body" = "rich_text"}}; another kind fails the build.',
    )
    page_size: Annotated[int, Field(ge=1, le=2999)] = Field(
        default=DEFAULT_PAGE_SIZE,
        description=(
            "Entities per list request to start with (one more is asked, so requests stay within Fibery's 3000); "
            "a page that times out is asked again at half the size, and each database's size is remembered"
        ),
    )
    segments_database: str = Field(default="Process Segments", description="Database of `gen segments`.")
    timeout: Annotated[float, Field(gt=0, le=600)] = Field(
        default=30.0, description="Seconds to wait for one Fibery answer."
    )
    retries: Annotated[int, Field(ge=0, le=10)] = Field(default=5, description="Retries on 429, 5xx and timeouts.")
    fetch_deadline: Annotated[float, Field(gt=0)] = Field(
        default=1800.0, description="Seconds the whole read of the space may take before the build gives up."
    )
    full_refresh_hours: Annotated[float, Field(ge=0)] = Field(
        default=24.0,
        description="Read the whole space again once the last full read is this old (0: only when needed).",
    )
    requests_per_second: Annotated[float, Field(gt=0, le=3)] = Field(
        default=3.0, description="Client-side request budget (Fibery allows 3/s per token)."
    )
    content_dir: str = Field(default="content", description="Folder of hand-written Markdown pages.")
    templates_dir: str = Field(default="templates", description="Folder of template overrides.")
    cache_dir: str = Field(
        default=DEFAULT_CACHE_DIR,
        description="Folder of the fetch and render caches (relative to kb.toml); `gen build --full` ignores them.",
    )
    # Reader-facing features (issue 5): files, embeds, search.
    max_file_size: Annotated[int, Field(ge=0)] = Field(
        default=DEFAULT_MAX_FILE_SIZE,
        description="Largest file (bytes) downloaded from Fibery and published; larger ones show a placeholder.",
    )
    file_types: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FILE_TYPES),
        description='Content types that may be published ("image/png", or "image/*"); others show a placeholder.',
    )
    superset_url: str | None = Field(
        default=None, description="Superset address: URL fields pointing under it are embedded as dashboards."
    )
    publish_email_fields: bool = Field(
        default=False, description="Publish fields of e-mail addresses (people's addresses stay out by default)."
    )
    external_images: Literal["link", "download", "drop", "hotlink"] = Field(
        default="link",
        description="Images in Fibery content that live on another host: link (shown as a link to the image, "
        "so readers' browsers never call that host unasked), download (copied into the site when built), "
        "drop, or hotlink (shown from that host).",
    )
    search: bool = Field(default=True, description="Build the Pagefind search index (needs the pagefind binary).")
    strict: bool = Field(
        default=False,
        description="Fail the build when a file cannot be published or the built site has a broken link.",
    )
    # Extensibility (issue 8): plugins are chosen and configured here.
    source: str = Field(
        default="fibery",
        description="Where the workspace comes from: fibery, snapshot, demo, or a fibery_kb.sources plugin.",
    )
    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="[plugins.<name>] enables an installed fields/pages/sources plugin with these options.",
    )

    _check_base_url = field_validator("base_url")(classmethod(lambda cls, v: _check_http_url(v)))
    _check_superset_url = field_validator("superset_url")(classmethod(lambda cls, v: _check_http_url(v)))

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

    @field_validator("fibery_url")
    @classmethod
    def _workspace_url(cls, value: str) -> str:
        """Only the workspace's address: a path (``…/Space``) would be read as no space at all."""
        url = (_check_http_url(value) or "").rstrip("/")
        parts = urlsplit(url)
        if parts.path or parts.query or parts.fragment:
            origin = f"{parts.scheme}://{parts.netloc}"
            raise ValueError(f"must be the workspace address only, e.g. {origin} (set the space with FIBERY_SPACE)")
        return url

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


def template_dirs(config: SiteConfig, root: Path) -> list[str]:
    """Where templates are looked up, in order: the project's ``templates_dir`` overrides
    the built-in templates file by file."""
    project = root / config.templates_dir
    builtin = package_files("generator").joinpath("templates")
    dirs = [str(project)] if project.is_dir() else []
    if builtin.is_dir():
        dirs.append(str(builtin))
    # Editable installs and a source checkout keep the templates beside the package.
    dirs.append(str(Path(__file__).resolve().parent.parent / "templates"))
    return dirs


def load_site_config(root: Path = Path("."), path: Path | None = None) -> SiteConfig:
    """Read and validate ``kb.toml``: defaults when the default ``kb.toml`` is absent, an
    error when a ``path`` given (``--config``) is (a typo must not publish hidden fields)."""
    if path is not None and not path.is_file():
        raise ConfigError(f"--config {path}: {'not a file' if path.exists() else 'no such file'}")
    path = path or root / CONFIG_FILE
    if not path.is_file():
        return _validated({}, BASE_URL_ENV)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return _validated(data, str(path))


BASE_URL_ENV = "KB_BASE_URL"
"""Where the site is served when kb.toml does not say: the Pages workflow sets it from
``actions/configure-pages``, so that ``404.html`` (which a host serves at any depth) links
absolutely without the user setting ``base_url``."""


def _validated(data: dict[str, Any], source: str) -> SiteConfig:
    if not data.get("base_url") and os.environ.get(BASE_URL_ENV, "").strip():
        data = {**data, "base_url": os.environ[BASE_URL_ENV].strip()}
        source = f"{source} (with {BASE_URL_ENV})"
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None


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

    Raises ``ConfigError`` naming every missing setting at once and how to provide them.
    """
    url = fibery_url or os.environ.get("FIBERY_URL")
    space_name = space or os.environ.get("FIBERY_SPACE")
    token = _read_token_file(token_file) if token_file else os.environ.get("FIBERY_TOKEN")
    missing = [
        (name, option)
        for value, name, option in (
            (url, "FIBERY_URL", "--fibery-url"),
            (space_name, "FIBERY_SPACE", "--space"),
            (token, "FIBERY_TOKEN", "--token-file"),
        )
        if not value
    ]
    if len(missing) == 1:
        name, option = missing[0]
        raise ConfigError(f"{name} is not set: set the environment variable or use {option}")
    if missing:
        names = ", ".join(name for name, _ in missing)
        options = ", ".join(option for _, option in missing)
        raise ConfigError(f"{names} are not set: set the environment variables or use {options}")
    try:
        # Validated from a dict: every value is set by now (``missing`` is empty), which the
        # type checker cannot see through the loop above.
        return Connection.model_validate({"fibery_url": url, "space": space_name, "token": token})
    except ValidationError as exc:
        variables = {"fibery_url": "FIBERY_URL", "space": "FIBERY_SPACE", "token": "FIBERY_TOKEN"}
        first = exc.errors()[0]
        name = variables.get(str(first["loc"][0]), str(first["loc"][0]))
        raise ConfigError(f"{name}: {first['msg'].removeprefix('Value error, ')}") from None
