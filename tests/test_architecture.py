"""The import contract (.importlinter) holds, covers every package, and fails on a violation."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LAYERS = "Layers: the shell over the domain over the kernel, imports only downward"
ACYCLIC = "No cycles between the modules of a package"
INTEGRATIONS = "The integrations reach Steward only through the client"


def root_packages() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return config["importlinter"]["root_packages"].split()


def lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_code_keeps_the_contract() -> None:
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{LAYERS} KEPT" in done.stdout and f"{ACYCLIC} KEPT" in done.stdout
    assert f"{INTEGRATIONS} KEPT" in done.stdout


def test_the_contract_covers_every_installed_package() -> None:
    """A package left out of root_packages would be checked by nothing."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    installed = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert sorted(root_packages()) == sorted(name.rstrip("*") for name in installed)


def test_the_image_copies_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    missing = [p for p in root_packages() if f"COPY {p} ./{p}\n" not in dockerfile]
    assert missing == []


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The packages and the contract, copied to be broken without touching the repository."""
    for package in root_packages():
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / ".importlinter", tmp_path)
    return tmp_path


# Each line puts back one of the dependencies this contract was written to remove.
VIOLATIONS = {
    "the kernel imports the composition root": (
        "steward/catalog.py",
        "from app.runtime import Runtime",
        LAYERS,
        "steward.catalog -> app.runtime",
    ),
    "retrieval imports ingest": (
        "retrieval/search.py",
        "from ingest.pipeline import IngestPipeline",
        LAYERS,
        "retrieval.search -> ingest.pipeline",
    ),
    "evaluation imports hygiene": (
        "evaluation/runs.py",
        "from hygiene.records import HygieneRecords",
        LAYERS,
        "evaluation.runs -> hygiene.records",
    ),
    "a connector imports the index": (
        "connectors/base.py",
        "from retrieval.store import VectorStore",
        LAYERS,
        "connectors.base -> retrieval.store",
    ),
    "the client imports the engine": (
        "client/http.py",
        "from retrieval.search import Retriever",
        LAYERS,
        "client.http -> retrieval.search",
    ),
    "the kernel imports the client": (
        "steward/errors.py",
        "from client.errors import ClientError",
        LAYERS,
        "steward.errors -> client.errors",
    ),
    # The layers would allow this (retrieval is below integrations); the forbidden contract not.
    "an integration imports the engine": (
        "integrations/results.py",
        "from retrieval.search import Retriever",
        INTEGRATIONS,
        "integrations.results -> retrieval.search",
    ),
    "the ingest pipeline imports an integration": (
        "ingest/pipeline.py",
        "from integrations.results import metadata",
        LAYERS,
        "ingest.pipeline -> integrations.results",
    ),
    "the Celery app imports its tasks": (
        "jobs/celery_app.py",
        "from jobs import tasks",
        ACYCLIC,
        "No cycles are allowed in jobs.",
    ),
}


def test_an_untouched_copy_keeps_the_contract(copy: Path) -> None:
    """So that a failure below is the added import's doing, not the copy's."""
    done = lint(copy)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("violation", VIOLATIONS.values(), ids=VIOLATIONS.keys())
def test_a_violation_breaks_the_contract(copy: Path, violation: tuple[str, str, str, str]) -> None:
    module, line, contract, shown = violation
    with (copy / module).open("a", encoding="utf-8") as file:
        file.write(f"\n{line}  # noqa\n")
    done = lint(copy)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{contract} BROKEN" in done.stdout
    assert shown in done.stdout
