"""Start-up pays only for what a command uses: the model, the parser and the judge load when
something needs them, and what stands in for them before that agrees with them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.runtime import open_runtime
from app.sync import scan_after_ingest
from connectors.filesystem import FilesystemConnector
from retrieval.embed import LazyEmbedder, SentenceTransformerEmbedder, open_embedder
from steward.settings import Settings

# Modules a command that embeds, parses and scans nothing must not import: the model, the
# parsers, and the libraries only a long paragraph (llama_index), a Qdrant server
# (qdrant_client) or a hygiene scan (datasketch and its scipy) need; each costs 0.5-10 s.
HEAVY = (
    "torch",
    "sentence_transformers",
    "transformers",
    "unstructured",
    "spacy",
    "llama_index",
    "qdrant_client",
    "datasketch",
    "scipy",
)

TEXTS = [
    "How long is the refund window?",
    "Ünïcödé façade — naïve café; 東京 and Ελληνικά, emoji 🎉 too.",
    "MiniLM-L6 reads 256 word pieces; URLs like https://example.com/a?b=c&d=e count too.",
    "  leading and trailing spaces \t tabs\nand new lines  ",
    "",
    # Longer than the model's input: counted whole, never truncated at 128 or 512.
    " ".join(f"word{n} antidisestablishmentarianism" for n in range(400)),
]


def _imported(
    args: list[str], env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `steward ARGS` in a fresh interpreter; its result and every module it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from cli.main import app; app()", *args],
        env={**os.environ, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    modules = {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    return done, modules


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_the_word_pieces_are_the_models_own(embedder: SentenceTransformerEmbedder) -> None:
    lazy = open_embedder(embedder.name)
    assert isinstance(lazy, LazyEmbedder)
    assert (lazy.name, lazy.dimension, lazy.max_tokens) == (
        embedder.name,
        embedder.dimension,
        embedder.max_tokens,
    )
    assert lazy.count_tokens(TEXTS) == embedder.count_tokens(TEXTS)
    assert lazy.count_tokens(TEXTS)[-1] > 512
    for text in TEXTS:
        assert lazy.encode_tokens(text) == embedder.encode_tokens(text)
    assert not lazy.loaded  # counting loaded no weights


def test_the_model_loads_on_the_first_text_and_embeds_as_the_model(
    embedder: SentenceTransformerEmbedder,
) -> None:
    loads: list[int] = []

    def load() -> SentenceTransformerEmbedder:
        loads.append(1)
        return embedder

    card_embedder = open_embedder(embedder.name)
    assert isinstance(card_embedder, LazyEmbedder)
    lazy = LazyEmbedder(embedder.name, card_embedder.card, load)
    assert lazy.embed_documents([]).shape == (0, embedder.dimension) and not loads
    query = lazy.embed_query("refund window")
    assert loads == [1] and lazy.loaded
    assert (query == embedder.embed_query("refund window")).all()
    lazy.embed_documents(["a", "b"])
    assert loads == [1]


def test_a_model_folder_without_configs_loads_at_once(tmp_path: Path) -> None:
    """A hub name or a folder whose files do not say the dimension is loaded as before."""
    from steward.errors import ConfigError

    (tmp_path / "modules.json").write_text("[]")
    with pytest.raises(ConfigError, match="STEWARD_EMBED_MODEL"):
        open_embedder(str(tmp_path))


@pytest.fixture
def ingested(tmp_path: Path, embedder: SentenceTransformerEmbedder, make_settings) -> Settings:
    """A home with a small folder ingested and scanned, closed again (one process holds it)."""
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "refunds.md").write_text(
        "---\nowner: ana@example.com\n---\n# Refunds\n\nRefunds are paid within 30 days.\n"
    )
    (folder / "printers.txt").write_text("Printers\n\nThe printer on floor 2 is called Otto.\n")
    (folder / "vpn.md").write_text("# VPN\n\n- Install the client\n- Sign in with SSO\n")
    (tmp_path / "steward.yaml").write_text(
        f"sources:\n  kb:\n    connector: filesystem\n    path: {folder}\n", encoding="utf-8"
    )
    settings = make_settings(tmp_path)
    runtime = open_runtime(settings, embedder=embedder)
    try:
        summary = runtime.pipeline.run(FilesystemConnector(folder, "kb")).as_dict()
        assert summary["new"] == 3
        scan_after_ingest(runtime, summary)
    finally:
        runtime.close()
    return settings


@pytest.mark.parametrize(
    "command",
    [
        ["sources"],
        ["check", "--json"],
        ["hygiene", "report", "--json"],
        ["ingest", "{kb}", "--source", "kb", "--json"],
        ["sync", "kb", "--json"],
    ],
    ids=["sources", "check", "hygiene-report", "unchanged-ingest", "unchanged-sync"],
)
def test_a_command_that_embeds_nothing_loads_no_model_and_no_parser(
    ingested: Settings, command: list[str]
) -> None:
    home = ingested.home.home
    args = [part.format(kb=home.parent / "kb") for part in command]
    env = {"STEWARD_HOME": str(home), "STEWARD_SOURCES_FILE": str(ingested.home.sources_file)}
    done, modules = _imported(args, env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "cli.main" in modules  # the hook saw the imports
    assert _heavy(modules) == []
    if command[0] in ("ingest", "sync"):
        summary = json.loads(done.stdout)
        assert (summary["unchanged"], summary["chunks_embedded"]) == (3, 0)
