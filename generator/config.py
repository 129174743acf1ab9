"""Configuration: ``kb.toml`` (site options) and the Fibery connection (URL, space, token).

Precedence is option > environment > ``kb.toml`` > default. The token is read from
``FIBERY_TOKEN`` or from a file (``--token-file``), never from a command-line argument, and
is held as a ``Secret`` so that it cannot end up in a repr, a log line or an error.
``kb.toml`` is checked by msgspec against ``SiteConfig`` (types and ranges) and by the
structs' ``__post_init__`` (URLs); a bad value is reported as one line naming the key
(``structs.explain``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from importlib.resources import files as package_files
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

from .errors import ConfigError
from .model import FieldKind
from .naming import url_segment
from .structs import FieldError, about, explain

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


def _check_http_url(value: str | None, field: str) -> str | None:
    """``value`` stripped, when it is an http(s) URL with a host; ``FieldError`` otherwise."""
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FieldError(field, "must be an http:// or https:// URL, e.g. https://acme.fibery.io")
    return value.strip()


class SiteConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """The keys of ``kb.toml``. Unknown keys are errors: a typo in ``hide_fields`` must not
    publish a private field. Frozen: a command-line override (``--strict``) makes a new one
    with ``msgspec.structs.replace``. msgspec checks types and ranges when it converts
    ``kb.toml`` (``parse_site_config``), not when a config is made in code."""

    title: Annotated[str | None, about("Site title; defaults to the space name.")] = None
    base_url: Annotated[str | None, about("URL the site is served under, e.g. https://org.github.io/repo/.")] = None
    include_databases: Annotated[list[str], about("Publish only these databases (all when empty).")] = []
    exclude_databases: Annotated[list[str], about("Never publish these.")] = []
    hide_fields: Annotated[
        dict[str, list[str]],
        about('Fields never published: {"*": [...]} for every database, or per database name.'),
    ] = {}
    publish_when: Annotated[
        dict[str, dict[str, Annotated[list[str], msgspec.Meta(min_length=1)]]],
        about('Publish only entities whose state or select is listed: {"Guides" = {"State" = ["Published"]}}.'),
    ] = {}
    expect_kinds: Annotated[
        dict[str, dict[str, FieldKind]],
        about('Field kinds to check: {"Guides" = {"Body" = "rich_text"}}; another kind fails the build.'),
    ] = {}
    page_size: Annotated[
        int,
        about(
            "Entities per list request to start with (one more is asked, so requests stay within Fibery's 3000); "
            "a page that times out is asked again at half the size, and each database's size is remembered",
            ge=1,
            le=2999,
        ),
    ] = DEFAULT_PAGE_SIZE
    segments_database: Annotated[str, about("Database of `gen segments`.")] = "Process Segments"
    timeout: Annotated[float, about("Seconds to wait for one Fibery answer.", gt=0, le=600)] = 30.0
    retries: Annotated[int, about("Retries on 429, 5xx and timeouts.", ge=0, le=10)] = 5
    fetch_deadline: Annotated[
        float, about("Seconds the whole read of the space may take before the build gives up.", gt=0)
    ] = 1800.0
    full_refresh_hours: Annotated[
        float, about("Read the whole space again once the last full read is this old (0: only when needed).", ge=0)
    ] = 24.0
    requests_per_second: Annotated[
        float, about("Client-side request budget (Fibery allows 3/s per token).", gt=0, le=3)
    ] = 3.0
    content_dir: Annotated[str, about("Folder of hand-written Markdown pages.")] = "content"
    templates_dir: Annotated[str, about("Folder of template overrides.")] = "templates"
    cache_dir: Annotated[
        str,
        about("Folder of the fetch and render caches (relative to kb.toml); `gen build --full` ignores them."),
    ] = DEFAULT_CACHE_DIR
    # Reader-facing features (issue 5): files, embeds, search.
    max_file_size: Annotated[
        int,
        about("Largest file (bytes) downloaded from Fibery and published; larger ones show a placeholder.", ge=0),
    ] = DEFAULT_MAX_FILE_SIZE
    file_types: Annotated[
        list[str],
        about('Content types that may be published ("image/png", or "image/*"); others show a placeholder.'),
    ] = msgspec.field(default_factory=lambda: list(DEFAULT_FILE_TYPES))
    superset_url: Annotated[
        str | None, about("Superset address: URL fields pointing under it are embedded as dashboards.")
    ] = None
    publish_email_fields: Annotated[
        bool, about("Publish fields of e-mail addresses (people's addresses stay out by default).")
    ] = False
    external_images: Annotated[
        Literal["link", "download", "drop", "hotlink"],
        about(
            "Images in Fibery content that live on another host: link (shown as a link to the image, "
            "so readers' browsers never call that host unasked), download (copied into the site when built), "
            "drop, or hotlink (shown from that host)."
        ),
    ] = "link"
    search: Annotated[bool, about("Build the Pagefind search index (needs the pagefind binary).")] = True
    strict: Annotated[
        bool, about("Fail the build when a file cannot be published or the built site has a broken link.")
    ] = False
    # Extensibility (issue 8): plugins are chosen and configured here.
    source: Annotated[
        str, about("Where the workspace comes from: fibery, snapshot, demo, or a fibery_kb.sources plugin.")
    ] = "fibery"
    plugins: Annotated[
        dict[str, dict[str, Any]],
        about("[plugins.<name>] enables an installed fields/pages/sources plugin with these options."),
    ] = {}

    def __post_init__(self) -> None:
        """The checks msgspec has no constraint for: the URLs, kept stripped."""
        for field in ("base_url", "superset_url"):
            msgspec.structs.force_setattr(self, field, _check_http_url(getattr(self, field), field))


def parse_site_config(data: Mapping[str, Any], source: str) -> SiteConfig:
    """``data`` (``kb.toml``'s tables) as a ``SiteConfig``, or a ``ConfigError`` of one line
    naming ``source``, the key and what is wrong with it."""
    if isinstance(data.get("hide_fields"), list):  # the global form: hide_fields = ["Internal notes"]
        data = {**data, "hide_fields": {"*": data["hide_fields"]}}
    try:
        return msgspec.convert(data, SiteConfig)
    except msgspec.ValidationError as exc:
        key, problem = explain(exc, SiteConfig, data)
        raise ConfigError(f"{source}: key '{key or '(top level)'}': {problem}") from None


class Secret:
    """The Fibery token: its repr and str are stars, so that it cannot end up in a repr, a
    log line, an error or a traceback; ``get_secret_value`` is the one way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        """The token itself: for the ``Authorization`` header and the log filter only."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"


class Connection(msgspec.Struct, kw_only=True, frozen=True):
    """Where the live workspace is read from. Checked when made (``FieldError``)."""

    fibery_url: str
    space: str
    token: Secret

    def __post_init__(self) -> None:
        msgspec.structs.force_setattr(self, "fibery_url", _workspace_url(self.fibery_url))
        if not self.space.strip():
            raise FieldError("space", "must not be empty")
        msgspec.structs.force_setattr(self, "space", self.space.strip())

    @property
    def space_path(self) -> str:
        """The space as it appears in URLs: ``Knowledge Base`` → ``Knowledge_Base``."""
        return url_segment(self.space)

    @property
    def endpoint(self) -> str:
        """The space's GraphQL endpoint."""
        return f"{self.fibery_url}/api/graphql/space/{self.space_path}"


def _workspace_url(value: str) -> str:
    """Only the workspace's address: a path (``…/Space``) would be read as no space at all."""
    url = (_check_http_url(value, "fibery_url") or "").rstrip("/")
    parts = urlsplit(url)
    if parts.path or parts.query or parts.fragment:
        origin = f"{parts.scheme}://{parts.netloc}"
        raise FieldError(
            "fibery_url", f"must be the workspace address only, e.g. {origin} (set the space with FIBERY_SPACE)"
        )
    return url


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
    return parse_site_config(data, source)


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
    # Every value is set by now (``missing`` is empty), which the type checker cannot see
    # through the loop above.
    assert url and space_name and token
    try:
        return Connection(fibery_url=url, space=space_name, token=Secret(token))
    except FieldError as exc:
        variables = {"fibery_url": "FIBERY_URL", "space": "FIBERY_SPACE"}
        raise ConfigError(f"{variables.get(exc.field, exc.field)}: {exc}") from None
