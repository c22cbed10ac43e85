"""A git repository (a local path or a clone URL) at one branch, filtered by path globs.

Content is what is committed on the branch, read from a private clone under the Steward home,
so a user's working tree is never touched. Freshness and owner come from each file's last
commit: its committer time and its author's email.

The URL is the operator's, yet it reaches git's command line: it is passed after `--` (so a URL
like `--upload-pack=...` is never an option), one that begins with `-` is refused, and only the
allowed transports are used (`PROTOCOLS`: https, ssh, git and local paths by default). Remote
helpers such as `ext::` run a command of the URL's choosing; git itself refuses every transport
that is not listed (GIT_ALLOW_PROTOCOL), including for submodules and redirects.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path

from connectors.filesystem import MEDIA_TYPES, matches
from steward.domain import DocumentRef, RawDocument
from steward.errors import DocumentError, SourceError

_TIMEOUT_S = 300
# Transports a source may name unless told otherwise: `file` covers local paths.
PROTOCOLS = ("https", "ssh", "git", "file")
# `host:path` or `user@host:path`: git's scp-like syntax for ssh (not a drive letter, no slash
# before the colon).
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?[^/:]{2,}:")


def transport(url: str) -> str:
    """The transport git would use for `url`: its scheme, a remote helper's name, ssh or file."""
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if scheme:
        return scheme.group(1).lower()
    helper = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)::", url)
    if helper:  # <transport>::<address> runs git-remote-<transport>
        return helper.group(1).lower()
    if _SCP_LIKE.match(url):
        return "ssh"
    return "file"


def check_url(url: str, protocols: Sequence[str] = PROTOCOLS) -> None:
    """Refuse a URL git could read as an option or that names a transport not allowed."""
    if not url.strip():
        raise ValueError("the git URL is empty")
    if url.lstrip().startswith("-"):
        raise ValueError(f"the git URL {url!r} begins with '-': git would read it as an option")
    used = transport(url)
    if used not in protocols:
        raise ValueError(
            f"the git transport {used!r} is not allowed (allowed: {', '.join(protocols)})"
        )


def check_branch(branch: str) -> None:
    """Refuse a branch git could read as an option or as more than one ref."""
    if not branch or branch.startswith("-") or re.search(r"[\s:~^?*\[\\]|\.\.", branch):
        raise ValueError(f"{branch!r} is not a branch name")


class GitConnector:
    """Files of one branch; each listing fetches the branch first."""

    def __init__(
        self,
        url: str,
        source: str,
        workdir: Path,
        branch: str = "main",
        include: Sequence[str] = ("**/*",),
        exclude: Sequence[str] = (),
        protocols: Sequence[str] = PROTOCOLS,
    ) -> None:
        try:
            check_url(url, protocols)
            check_branch(branch)
        except ValueError as error:
            raise SourceError(source, str(error)) from None
        self.url = url
        self.protocols = tuple(protocols)
        self.source = source
        self.branch = branch
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.clone = workdir / sha256(f"{url}\x00{branch}".encode()).hexdigest()[:16]
        self._blobs: dict[str, str] = {}  # path -> blob id at the listed commit
        self._authors: dict[str, str] = {}  # path -> author email of its last commit

    def _git(self, *args: str, cwd: Path | None = None) -> str:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=cwd or self.clone,
                capture_output=True,
                text=True,
                timeout=_TIMEOUT_S,
                env={
                    "GIT_TERMINAL_PROMPT": "0",
                    "GIT_ALLOW_PROTOCOL": ":".join(self.protocols),
                    "PATH": "/usr/bin:/bin:/usr/local/bin",
                },
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SourceError(self.source, f"git {args[0]} failed: {error}") from None
        if done.returncode != 0:
            raise SourceError(self.source, f"git {args[0]} failed: {done.stderr.strip()[:500]}")
        return done.stdout

    def _update(self) -> str:
        """Fetch the branch into the private clone; the commit id that will be listed."""
        if not (self.clone / ".git").is_dir() and not (self.clone / "HEAD").is_file():
            self.clone.parent.mkdir(parents=True, exist_ok=True)
            self._git(
                "clone", "--bare", "--quiet", "--", self.url, str(self.clone), cwd=self.clone.parent
            )
        self._git("fetch", "--quiet", "--", self.url, f"+{self.branch}:refs/steward/head")
        return self._git("rev-parse", "refs/steward/head").strip()

    def list(self) -> Iterator[DocumentRef]:
        commit = self._update()
        tree = self._git("ls-tree", "-r", "-l", "-z", commit)
        files: dict[str, tuple[str, int]] = {}
        for entry in tree.split("\0"):
            if not entry:
                continue
            meta, path = entry.split("\t", 1)
            _mode, kind, blob, length = meta.split()
            if kind == "blob" and matches(path, self.include) and not matches(path, self.exclude):
                files[path] = (blob, int(length) if length.isdigit() else 0)
        last = self._last_commits(commit, set(files))
        self._blobs = {path: blob for path, (blob, _) in files.items()}
        self._authors = {path: author for path, (_, author) in last.items() if author}
        refs = []
        for path in sorted(files):
            blob, size = files[path]
            when = last.get(path, (0, ""))[0]
            refs.append(
                DocumentRef(
                    source=self.source,
                    key=path,
                    source_uri=path,
                    updated_at=datetime.fromtimestamp(when, UTC),
                    size=size,
                    fingerprint=blob,
                )
            )
        yield from refs

    def _last_commits(self, commit: str, paths: set[str]) -> dict[str, tuple[int, str]]:
        """Each path's newest commit (time, author email), from one walk of the history."""
        # Each commit starts with a \x01-marked header, so no file name can pass for one.
        log = self._git("log", "--format=%x00%x01%ct %ae", "--name-only", "-z", commit)
        found: dict[str, tuple[int, str]] = {}
        current = (0, "")
        for token in log.split("\0"):
            token = token.lstrip("\n")
            if token.startswith("\x01"):
                stamp, _, email = token[1:].partition(" ")
                current = (int(stamp), email.strip())
            elif token in paths and token not in found:
                found[token] = current
        return found

    def fetch(self, ref: DocumentRef) -> RawDocument:
        suffix = Path(ref.key).suffix.lower()
        if suffix not in MEDIA_TYPES:
            raise DocumentError(ref.source_uri, f"unsupported file type {suffix or '(none)'}")
        blob = self._blobs.get(ref.key)
        if blob is None:
            raise DocumentError(ref.source_uri, "not in the listed commit")
        try:
            content = subprocess.run(
                ["git", "cat-file", "blob", blob],
                cwd=self.clone,
                capture_output=True,
                timeout=_TIMEOUT_S,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError) as error:
            raise DocumentError(ref.source_uri, f"cannot read from git: {error}") from None
        author = self._authors.get(ref.key)
        metadata: dict[str, object] = {"owner": author} if author else {}
        return RawDocument(
            ref=ref, content=content, media_type=MEDIA_TYPES[suffix], metadata=metadata
        )
