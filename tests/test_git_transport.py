"""A git source's URL never reaches git as an option, and only allowed transports are used."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from app.sources import load_sources
from connectors.git import GitConnector, transport
from steward.errors import ConfigError, SourceError


def make_repo(root: Path) -> Path:
    """A real repository with one committed page on `main`."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Ana",
        "GIT_AUTHOR_EMAIL": "ana@example.com",
        "GIT_COMMITTER_NAME": "Ana",
        "GIT_COMMITTER_EMAIL": "ana@example.com",
    }
    root.mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "docs" / "vpn.md").write_text("# VPN\n\nConnect with the GlobalProtect client.\n")
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "start"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    return root


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://git.example.com/eng/handbook.git", "https"),
        ("ssh://git@git.example.com/eng.git", "ssh"),
        ("git@git.example.com:eng/handbook.git", "ssh"),
        ("git://git.example.com/eng.git", "git"),
        ("file:///srv/git/eng.git", "file"),
        ("/srv/git/eng.git", "file"),
        ("./repos/eng:old", "file"),
        ("ext::sh -c touch% /tmp/pwned", "ext"),
        ("fd::17", "fd"),
        ("http://git.example.com/eng.git", "http"),
    ],
)
def test_the_transport_is_read_as_git_reads_it(url: str, expected: str) -> None:
    assert transport(url) == expected


def test_a_url_that_begins_with_a_dash_is_refused(tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    for url in (f"--upload-pack=touch {planted}", f"-u touch {planted}", " --template=/x"):
        with pytest.raises(SourceError, match="begins with '-'"):
            GitConnector(url, "eng", tmp_path / "work")
    assert not planted.exists()


def test_a_remote_helper_is_refused_before_git_runs(tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    with pytest.raises(SourceError, match="transport 'ext' is not allowed"):
        GitConnector(f"ext::sh -c touch% {planted}", "eng", tmp_path / "work")
    with pytest.raises(SourceError, match="transport 'http' is not allowed"):
        GitConnector("http://git.example.com/eng.git", "eng", tmp_path / "work")
    assert not planted.exists()


def test_git_itself_refuses_transports_that_are_not_allowed(tmp_path: Path) -> None:
    # Past our own check (say, a submodule or a redirect), git enforces the same list.
    planted = tmp_path / "planted"
    connector = GitConnector(str(make_repo(tmp_path / "repo")), "eng", tmp_path / "work")
    with pytest.raises(SourceError, match="transport 'ext' not allowed"):
        connector._git("ls-remote", "--", f"ext::sh -c touch% {planted}", cwd=tmp_path)
    assert not planted.exists()


def test_a_branch_that_git_could_read_otherwise_is_refused(tmp_path: Path) -> None:
    for branch in ("--all", "main:refs/heads/x", "a b", "x..y"):
        with pytest.raises(SourceError, match="not a branch name"):
            GitConnector("/srv/git/eng.git", "eng", tmp_path / "work", branch=branch)


def test_local_paths_and_file_urls_still_clone(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "-dashed-name")  # a dash inside the path is harmless
    for url in (str(repo), f"file://{repo}"):
        connector = GitConnector(url, "eng", tmp_path / url.replace("/", "_"))
        assert [ref.key for ref in connector.list()] == ["docs/vpn.md"]


def test_the_sources_file_refuses_a_git_url_naming_the_source(tmp_path: Path) -> None:
    declared = tmp_path / "steward.yaml"
    declared.write_text("sources:\n  eng:\n    connector: git\n    url: 'ext::sh -c id'\n")
    with pytest.raises(ConfigError, match=r"sources\.eng.*transport 'ext' is not allowed"):
        load_sources(declared)
    declared.write_text(
        "sources:\n  eng:\n    connector: git\n    url: http://git.example.com/eng.git\n"
        "    protocols: [https, http]\n"
    )
    assert load_sources(declared)["eng"].protocols == ["https", "http"]  # type: ignore[union-attr]
