"""Sources declared in `steward.yaml`: connector, its settings, schedule and defaults.

sources:
  handbook:
    connector: filesystem
    path: ./docs
    include: ["**/*.md"]
    schedule: "*/30 * * * *"      # cron, UTC
    owner: kb-team@example.com    # default owner of documents that name none
    review_interval_days: 180
    acl: []                       # default access groups; empty means public
  wiki:
    connector: sql
    url: postgresql+psycopg://reader@db/wiki
    password_env: WIKI_DB_PASSWORD  # the password stays in the environment, never stored
    query: select id, title, body, updated_at, owner, acl from pages
  engineering:
    connector: git
    url: https://git.example.com/eng/handbook.git
    branch: main
    include: ["docs/**"]
  wiki-cloud:
    connector: confluence
    url: https://acme.atlassian.net/wiki
    spaces: [ENG, OPS]
    user: steward-bot@acme.com       # Cloud: email + API token; without it, a bearer token (DC)
    token_env: CONFLUENCE_TOKEN      # or token_file: ./secrets/confluence-token
  notes:
    connector: notion
    token_file: ./secrets/notion-token
    acl: [product]                  # who may read what the integration sees
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from croniter import CroniterError, croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectors.api_client import RetryPolicy
from connectors.base import Connector
from connectors.git import PROTOCOLS as GIT_PROTOCOLS
from connectors.git import check_branch as check_git_branch
from connectors.git import check_url as check_git_url
from connectors.sharepoint import check_drive as check_sharepoint_drive
from steward.access import within
from steward.catalog import Catalog
from steward.domain import DocumentRef, RawDocument, as_utc
from steward.errors import ConfigError
from steward.outbound import OutboundPolicy


def _cron(value: str) -> str:
    # Five fields: Celery's crontab takes exactly these (croniter also takes seconds, or @hourly).
    if len(value.split()) != 5:
        raise ValueError("must be a five-field cron expression, e.g. '*/30 * * * *'")
    try:
        # A time that never comes (February 31) fails only when the next run is looked for.
        croniter(value).get_next()
    except CroniterError as error:
        raise ValueError(f"not a valid cron expression: {error}") from None
    return value


Cron = Annotated[str, AfterValidator(_cron)]


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: Cron | None = Field(None, description="cron expression, UTC")
    owner: str | None = None
    acl: list[str] = Field(default_factory=list)
    # Days until a document is due for review; STEWARD_HYGIENE_REVIEW_INTERVAL_DAYS when unset.
    # A document's front matter `review_by` (a date) overrides it.
    review_interval_days: int | None = Field(None, ge=1)
    # Which copy of a duplicated text is canonical: the higher priority wins (then recency).
    priority: int = 0
    # Buckets of the source's documents (by id) that sync apart: in distributed mode each is a
    # Celery task of its own (jobs/tasks.py); elsewhere they run one after another, each
    # holding only its own documents in memory. README "Beyond one machine".
    partitions: int = Field(1, ge=1, le=4096)


class FilesystemSource(_Common):
    connector: Literal["filesystem"]
    path: Path
    include: list[str] = Field(default_factory=lambda: ["**/*"])
    exclude: list[str] = Field(default_factory=lambda: ["**/.*", "**/.*/**"])


class SqlSource(_Common):
    """An SQL query; the database's credentials are referenced here, never written.

    `url` is an SQLAlchemy URL without its password, which comes from the environment variable
    `password_env` names; or the whole URL comes from an environment variable (`url_env`) or a
    file (`url_file`, relative to steward.yaml). What the catalog keeps of this configuration is
    redacted either way (steward/redact.py), so a password written into `url` is never stored.
    """

    connector: Literal["sql"]
    url: str | None = None
    url_env: str | None = None
    url_file: Path | None = None
    password_env: str | None = None
    query: str

    @model_validator(mode="after")
    def _one_url(self) -> SqlSource:
        given = [name for name in ("url", "url_env", "url_file") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of url, url_env and url_file")
        return self

    def dsn(self) -> str:
        """The database URL with its password, read now; ConfigError naming what is missing."""
        import os

        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        if self.url_env:
            url = os.environ.get(self.url_env, "")
            if not url:
                raise ConfigError(f"url_env: the environment variable {self.url_env} is not set")
        elif self.url_file:
            try:
                url = self.url_file.read_text(encoding="utf-8").strip()
            except OSError as error:
                reason = f"url_file: cannot read {self.url_file}: {error.strerror}"
                raise ConfigError(reason) from None
        else:
            url = str(self.url)
        if not self.password_env:
            return url
        password = os.environ.get(self.password_env)
        if password is None:
            raise ConfigError(
                f"password_env: the environment variable {self.password_env} is not set"
            )
        try:
            return make_url(url).set(password=password).render_as_string(hide_password=False)
        except ArgumentError as error:
            raise ConfigError(f"url: not an SQLAlchemy URL ({error})") from None


class GitSource(_Common):
    connector: Literal["git"]
    url: str
    branch: str = "main"
    include: list[str] = Field(default_factory=lambda: ["**/*"])
    exclude: list[str] = Field(default_factory=list)
    # Transports git may use (connectors/git.py); e.g. add "http" for a plain-HTTP server.
    protocols: list[str] = Field(default_factory=lambda: list(GIT_PROTOCOLS))

    @model_validator(mode="after")
    def _git_may_use(self) -> GitSource:
        check_git_url(self.url, self.protocols)
        check_git_branch(self.branch)
        return self


class _Token(BaseModel):
    """A SaaS source's API token, referenced and never written (`token_env` or `token_file`),
    and how its API client behaves (connectors/api_client.py)."""

    token_env: str | None = None
    token_file: Path | None = None
    concurrency: int = Field(4, ge=1, le=16)  # requests in flight at once
    retry_attempts: int = Field(5, ge=1, le=20)  # per request, on a 5xx or a network failure
    retry_backoff_s: float = Field(0.5, ge=0)  # the first wait; doubled after each failure
    max_retry_after_s: float = Field(60.0, ge=0)  # a 429 asking for longer fails the run

    def retry(self) -> RetryPolicy:
        return RetryPolicy(self.retry_attempts, self.retry_backoff_s, self.max_retry_after_s)

    @model_validator(mode="after")
    def _one_token(self) -> _Token:
        given = [name for name in ("token_env", "token_file") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of token_env and token_file")
        return self

    def token(self) -> tuple[str, str]:
        """The token, read now, and where it came from (for error messages); ConfigError when
        it is missing."""
        import os

        if self.token_env:
            value = os.environ.get(self.token_env, "").strip()
            if not value:
                raise ConfigError(
                    f"token_env: the environment variable {self.token_env} is not set"
                )
            return value, f"the token in ${self.token_env}"
        try:
            value = Path(str(self.token_file)).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(
                f"token_file: cannot read {self.token_file}: {error.strerror}"
            ) from None
        if not value:
            raise ConfigError(f"token_file: {self.token_file} is empty")
        return value, f"the token in {self.token_file}"


class ConfluenceSource(_Token, _Common):
    """Confluence Cloud or Data Center (connectors/confluence.py).

    Cloud: `url` is https://<site>.atlassian.net/wiki, `user` the account's email and the
    token an API token (basic auth). Data Center: `url` is the base URL with its context path,
    no `user`, and the token a personal access token (bearer).
    """

    connector: Literal["confluence"]
    url: str
    spaces: list[str] = Field(..., min_length=1)
    deployment: Literal["cloud", "datacenter"] = "cloud"
    user: str | None = None
    types: list[Literal["page", "blogpost"]] = Field(
        default_factory=lambda: ["page"]  # type: ignore[arg-type]
    )
    # Read each space's "read space" permission (needs admin permission on the space); false
    # when `acl` names the readers instead.
    space_permissions: bool = True
    group_prefix: str = ""
    user_prefix: str = "user:"
    # A label such as review-by-2027-03-31 sets the page's review date.
    review_label_prefix: str = "review-by-"
    page_size: int = Field(50, ge=1, le=200)
    # Attachments (PDF, DOCX, Markdown, text, HTML) as documents with their page's readers:
    # one more request per page and listing.
    attachments: bool = False

    @model_validator(mode="after")
    def _readers_known(self) -> ConfluenceSource:
        if not self.space_permissions and not self.acl:
            raise ValueError(
                "space_permissions: false needs acl naming who may read the spaces "
                "(an empty acl would make every unrestricted page public)"
            )
        return self


class NotionSource(_Token, _Common):
    """The pages shared with a Notion integration (connectors/notion.py); its token is the
    integration's secret. Notion says what the integration may read, not who else may: the
    pages get this source's `acl`."""

    connector: Literal["notion"]
    url: str = "https://api.notion.com"
    owner_property: str = "Owner"
    review_property: str = "Review date"
    tags_property: str = "Tags"
    page_size: int = Field(100, ge=1, le=100)


class GoogleDriveSource(_Token, _Common):
    """Google Drive folders read as a service account (connectors/google_drive.py).

    `token_file` (or `token_env`) holds the service account's JSON key; `subject` makes it act
    for that user (domain-wide delegation).
    """

    connector: Literal["google_drive"]
    folders: list[str] = Field(..., min_length=1)
    subject: str | None = None
    url: str = "https://www.googleapis.com"
    group_prefix: str = ""
    user_prefix: str = "user:"
    # "Anyone with the link" is not a list of readers; true makes such files public.
    link_sharing_is_public: bool = False
    page_size: int = Field(100, ge=1, le=1000)

    def key(self) -> tuple[dict[str, Any], str]:
        """The service account key, parsed, and where it came from."""
        import json

        text, where = self.token()
        try:
            key = json.loads(text)
        except ValueError:
            raise ConfigError(f"{where.removeprefix('the token in ')} is not a JSON key") from None
        if not isinstance(key, dict):
            raise ConfigError(f"{where.removeprefix('the token in ')} is not a JSON key")
        return key, where.removeprefix("the token in ")


class SharePointSource(_Token, _Common):
    """A SharePoint Online document library or a OneDrive, through Microsoft Graph
    (connectors/sharepoint.py): an app registration's client secret in `token_env` or
    `token_file`, app-only (client credentials)."""

    connector: Literal["sharepoint"]
    tenant: str
    client_id: str
    drive: Annotated[str, AfterValidator(check_sharepoint_drive)]
    folder: str = ""  # a folder path inside the drive; everything when empty
    url: str = "https://graph.microsoft.com"
    login_url: str = "https://login.microsoftonline.com"
    group_prefix: str = ""
    user_prefix: str = "user:"
    # An anonymous sharing link makes a file public only when this is true.
    link_sharing_is_public: bool = False
    # A group permission as the group's email, or as its Entra object id: what an Entra ID
    # token's `groups` claim lists, so callers signed in through Entra match it.
    group_names: Literal["email", "id"] = "email"


class WebSource(_Common):
    connector: Literal["web"]
    start_url: str | None = None
    sitemap_url: str | None = None
    allowed_domains: list[str] = Field(default_factory=list)
    max_pages: int = Field(500, ge=1)
    delay_s: float = Field(0.5, ge=0)


AnySource = (
    FilesystemSource
    | SqlSource
    | GitSource
    | WebSource
    | ConfluenceSource
    | NotionSource
    | GoogleDriveSource
    | SharePointSource
)
SourceConfig = Annotated[AnySource, Field(discriminator="connector")]


class EvaluationSchedule(BaseModel):
    """`evaluation:` in steward.yaml: when every golden set (and the probes) run on their own."""

    model_config = ConfigDict(extra="forbid")

    schedule: Cron = Field(..., description="cron expression, UTC")
    probes: bool = True  # run the probe set too (built on first use)


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: dict[str, SourceConfig]
    evaluation: EvaluationSchedule | None = None


def load_evaluation(path: Path) -> EvaluationSchedule | None:
    """The `evaluation:` entry of a steward.yaml, if it has one."""
    return _parse(path).evaluation


def load_sources(path: Path) -> dict[str, AnySource]:
    """The sources of a steward.yaml; errors name the file and the offending entry."""
    parsed = _parse(path)
    base = path.parent
    resolved: dict[str, AnySource] = {}
    for name, config in parsed.sources.items():
        if isinstance(config, FilesystemSource) and not config.path.is_absolute():
            config = config.model_copy(update={"path": base / config.path})
        if isinstance(config, SqlSource) and config.url_file and not config.url_file.is_absolute():
            config = config.model_copy(update={"url_file": base / config.url_file})
        if isinstance(config, _Token) and config.token_file and not config.token_file.is_absolute():
            config = config.model_copy(update={"token_file": base / config.token_file})
        resolved[name] = config
    return resolved


def listing(path: Path, catalog: Catalog) -> list[dict[str, Any]]:
    """The sources of a steward.yaml with their document counts and last runs (GET /sources)."""
    found = []
    for name, config in load_sources(path).items():
        last = catalog.last_run(name)
        found.append(
            {
                "name": name,
                "connector": config.connector,
                "schedule": config.schedule,
                "documents": len(catalog.documents_of(name)),
                "last_run": None
                if last is None
                else {
                    "run_id": last.run_id,
                    "started_at": as_utc(last.started_at),
                    "finished_at": as_utc(last.finished_at) if last.finished_at else None,
                    "status": last.status,
                    "duration_s": last.duration_s,
                },
            }
        )
    return found


def _parse(path: Path) -> SourcesFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such sources file (STEWARD_SOURCES_FILE)") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    try:
        parsed = SourcesFile.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
    return parsed


class _WithDefaults:
    """A connector whose documents get the source's default owner and groups."""

    def __init__(self, inner: Connector, owner: str | None, acl: list[str]) -> None:
        self._inner = inner
        self.source = inner.source
        self._defaults: dict[str, Any] = {}
        if owner:
            self._defaults["owner"] = owner
        if acl:
            self._defaults["acl"] = list(acl)

    def list(self) -> Iterator[DocumentRef]:
        return self._inner.list()

    def __getattr__(self, name: str) -> Any:
        # What the wrapped connector can do beyond the protocol (list_changed, close).
        return getattr(self._inner, name)

    def fetch(self, ref: DocumentRef) -> RawDocument:
        raw = self._inner.fetch(ref)
        if not self._defaults:
            return raw
        metadata = {**self._defaults, **raw.metadata}
        if "acl" in self._defaults:
            # A row's own groups may narrow the source's, never widen them.
            own = raw.metadata.get("acl")
            metadata["acl"] = within(self._defaults["acl"], own if isinstance(own, list) else None)
        return replace(raw, metadata=metadata)


def build_connector(
    name: str, config: AnySource, home: Path, outbound: OutboundPolicy | None = None
) -> Connector:
    """The connector a source declares, with its defaults applied.

    `outbound` says where a web or SaaS source may send requests (public addresses only
    without it).
    """
    inner: Connector
    if isinstance(config, FilesystemSource):
        from connectors.filesystem import FilesystemConnector

        inner = FilesystemConnector(config.path, name, config.include, config.exclude)
    elif isinstance(config, SqlSource):
        from connectors.sql import SqlConnector

        inner = SqlConnector(config.dsn(), config.query, name)
    elif isinstance(config, GitSource):
        from connectors.git import GitConnector

        inner = GitConnector(
            config.url,
            name,
            home / "git",
            config.branch,
            config.include,
            config.exclude,
            config.protocols,
        )
    elif isinstance(config, ConfluenceSource):
        from connectors.confluence import ConfluenceConnector

        token, credentials = config.token()
        inner = ConfluenceConnector(
            name,
            config.url,
            config.spaces,
            token,
            credentials,
            user=config.user,
            deployment=config.deployment,
            types=config.types,
            space_permissions=config.space_permissions,
            group_prefix=config.group_prefix,
            user_prefix=config.user_prefix,
            review_label_prefix=config.review_label_prefix,
            page_size=config.page_size,
            concurrency=config.concurrency,
            outbound=outbound,
            retry=config.retry(),
            attachments=config.attachments,
            workdir=home / "confluence",
        )
    elif isinstance(config, NotionSource):
        from connectors.notion import NotionConnector

        token, credentials = config.token()
        inner = NotionConnector(
            name,
            token,
            credentials,
            home / "notion",
            url=config.url,
            owner_property=config.owner_property,
            review_property=config.review_property,
            tags_property=config.tags_property,
            page_size=config.page_size,
            concurrency=config.concurrency,
            outbound=outbound,
            retry=config.retry(),
        )
    elif isinstance(config, GoogleDriveSource):
        from connectors.google_drive import GoogleDriveConnector

        key, where = config.key()
        inner = GoogleDriveConnector(
            name,
            key,
            where,
            config.folders,
            home / "google_drive",
            subject=config.subject,
            url=config.url,
            group_prefix=config.group_prefix,
            user_prefix=config.user_prefix,
            link_sharing_is_public=config.link_sharing_is_public,
            page_size=config.page_size,
            concurrency=config.concurrency,
            outbound=outbound,
            retry=config.retry(),
        )
    elif isinstance(config, SharePointSource):
        from connectors.sharepoint import SharePointConnector

        secret, credentials = config.token()
        inner = SharePointConnector(
            name,
            config.tenant,
            config.client_id,
            secret,
            credentials.replace("the token in", "the client secret in"),
            config.drive,
            home / "sharepoint",
            url=config.url,
            login_url=config.login_url,
            folder=config.folder,
            group_prefix=config.group_prefix,
            user_prefix=config.user_prefix,
            link_sharing_is_public=config.link_sharing_is_public,
            group_names=config.group_names,
            concurrency=config.concurrency,
            outbound=outbound,
            retry=config.retry(),
        )
    else:
        from connectors.web import WebConnector

        inner = WebConnector(
            name,
            home / "web",
            start_url=config.start_url,
            sitemap_url=config.sitemap_url,
            allowed_domains=config.allowed_domains,
            max_pages=config.max_pages,
            delay_s=config.delay_s,
            outbound=outbound,
        )
    return _WithDefaults(inner, config.owner, config.acl)
