"""Exact-match benchmark: planted identifiers, codes, versions, names and phrases must be found.

A corpus (a BEIR set such as msmarco-5k, or a folder of Markdown pages such as a public docs
tree) gets made-up strings planted in some of its pages, one string a page, inside a sentence:
error codes (`QX-4821-ZE17`), hexadecimal error numbers, version strings, unfamiliar names and
phrases around a made-up word. Each is queried bare and inside a question (phrases unquoted and
"quoted"); a query scores when its page is first, or in the top 10. The corpus' natural queries
(BEIR qrels, or a questions file for a folder) are scored with nDCG@10 on the same index, so
one run shows what a fusion gains on exact matches and what it costs on questions.

Every fusion candidate is scored from the same dense and sparse candidate lists (each query is
searched once per side), through Steward's own Retriever and ranking. Prints a table, writes JSON.

    python benchmarks/exact_match.py --corpus msmarco=../shared/datasets/msmarco-5k \
        --corpus fastapi-docs=FASTAPI_DOCS@benchmarks/queries/fastapi-docs.jsonl

A folder corpus is read as Steward reads it (its Markdown pages, hidden folders skipped); a
questions file's page paths are relative to that folder, and a page it judges that is not in
the index stops the run.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.phases import _fmt, run_phase  # noqa: E402
from steward.settings import EXACT_RULES_OFF  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "msmarco-5k"
# The fusion defaults before exact matching (dense-weighted RRF alone), for comparison.
BEFORE = EXACT_RULES_OFF
# The rows the printed table shows (the JSON has every fusion candidate).
SHOWN = (
    "dense alone",
    "sparse alone (BM25)",
    "default",
    "rrf w=0.95",
    "rrf w=0.5",
    "rrf w=0.95 boost=3 exact=0 gap=1.3 place=0",
    "rrf w=0.95 boost=3 exact=1 gap=0 place=0",
    "rrf w=0.95 boost=1 exact=1 gap=1.3 place=0",
    "rrf w=0.95 boost=3 exact=1 gap=1.5 place=0",
    "rrf w=0.95 boost=3 exact=1 gap=2 place=0",
    "rrf w=0.95 boost=3 exact=1 gap=1.3 place=3",
    "rrf w=0.8 boost=3 exact=1 gap=1.3 place=0",
    "default, one weight",
    "default, below cosine 0.7 w=0.5",
    "default, below cosine 0.75 w=0.3",
    "default, below cosine 0.65 w=0.5",
)
PLANTED_PAGES = 60
SEED = 7
KINDS = ("code", "error", "version", "name", "phrase")

# -- made-up strings and the sentences that carry them --------------------------------------

_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
_FIRST_NAMES = (
    "Thaddeus",
    "Ingrid",
    "Marisol",
    "Oskar",
    "Priyanka",
    "Leopold",
    "Yusra",
    "Casimir",
    "Wilhelmina",
    "Anselm",
    "Ottilie",
    "Rafferty",
    "Zenobia",
    "Bartholomew",
    "Ines",
    "Tobiah",
)
_SENTENCES = {
    "code": (
        "If the export stops with code {x}, clear the local cache and start it again.",
        "Support tickets about this are filed under {x} in the tracker.",
        "The integration reports {x} when the upstream token has expired.",
    ),
    "error": (
        "A failed upgrade leaves error {x} in the installer log.",
        "On older machines the service may exit with status {x} at start-up.",
        "Reports of {x} usually mean the disk quota was reached.",
    ),
    "version": (
        "This behaviour changed in release {x} of the desktop agent.",
        "The minimum supported build is {x}; older builds are refused.",
        "Patch {x} fixed the rounding problem described above.",
    ),
    "name": (
        "Questions about this page go to {x}, who maintains it.",
        "The original study was led by {x} at a regional office.",
        "{x} reviewed this material before it was published.",
    ),
    "phrase": (
        "The {x} programme was renamed in the latest revision.",
        "Members of the {x} committee approve every exception.",
        "The {x} workbook lists the figures for each quarter.",
    ),
}
_QUESTIONS = {
    "code": ("what does {x} mean", "how do I fix {x}?", "I keep getting {x}, what should I do"),
    "error": (
        "troubleshooting error {x}",
        "why does the install fail with {x}?",
        "{x} after upgrading",
    ),
    "version": ("what changed in {x}?", "is {x} still supported", "known issues with build {x}"),
    "name": ("who is {x}?", "what did {x} work on", "how can I contact {x}"),
}


def _pseudo_word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(syllables))


def _made_up(kind: str, rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    if kind == "code":
        return (
            f"{rng.choice(letters)}{rng.choice(letters)}-{rng.randint(1000, 9999)}-"
            f"{rng.choice(letters)}{rng.choice(letters)}{rng.randint(10, 99)}"
        )
    if kind == "error":
        return f"0x{rng.randint(0x80000000, 0x8FFFFFFF):08X}"
    if kind == "version":
        return f"{rng.randint(3, 19)}.{rng.randint(20, 89)}.{rng.randint(100, 999)}"
    if kind == "name":
        surname = _pseudo_word(rng, 3).capitalize()
        return f"{rng.choice(_FIRST_NAMES)} {surname}"
    return _pseudo_word(rng, 4)  # phrase: a made-up word inside ordinary words


@dataclass(frozen=True, slots=True)
class Planted:
    doc_id: str
    kind: str
    value: str
    sentence: str


@dataclass(frozen=True, slots=True)
class ExactQuery:
    qid: str
    kind: str
    form: str  # bare | question | quoted | phrase
    text: str
    doc_id: str


def plant(doc_ids: Sequence[str], pages: int, seed: int = SEED) -> list[Planted]:
    """One made-up string for each of `pages` documents, kinds in turn; deterministic."""
    rng = random.Random(seed)
    chosen = rng.sample(sorted(doc_ids), min(pages, len(doc_ids)))
    seen: set[str] = set()
    planted: list[Planted] = []
    for number, doc_id in enumerate(chosen):
        kind = KINDS[number % len(KINDS)]
        value = _made_up(kind, rng)
        while value in seen:
            value = _made_up(kind, rng)
        seen.add(value)
        sentence = rng.choice(_SENTENCES[kind]).format(x=value)
        planted.append(Planted(doc_id, kind, value, sentence))
    return planted


def queries_for(planted: Sequence[Planted], seed: int = SEED) -> list[ExactQuery]:
    """Each planted string bare and in a question; phrases as three words, plain and quoted."""
    rng = random.Random(seed + 1)
    found: list[ExactQuery] = []
    for number, item in enumerate(planted):
        base = f"x{number:03d}"
        if item.kind == "phrase":
            words = item.sentence.rstrip(".").split()
            at = words.index(item.value)
            phrase = " ".join(words[at : at + 2]) + " " + words[-1]
            found.append(ExactQuery(f"{base}-p", item.kind, "phrase", phrase, item.doc_id))
            quoted = f'"{" ".join(words[at : at + 2])}" {words[-1]}'
            found.append(ExactQuery(f"{base}-q", item.kind, "quoted", quoted, item.doc_id))
            continue
        question = rng.choice(_QUESTIONS[item.kind]).format(x=item.value)
        found.append(ExactQuery(f"{base}-b", item.kind, "bare", item.value, item.doc_id))
        found.append(ExactQuery(f"{base}-q", item.kind, "question", question, item.doc_id))
    return found


def _insert(text: str, sentence: str, rng: random.Random) -> str:
    """The sentence at the end of a random paragraph of plain prose, on its line.

    Never inside front matter, a code fence or an HTML block (parsers drop those), and never
    as a line of its own: the templates differ only in their planted value, and ingest drops a
    line that many pages repeat near their edges as boilerplate (values masked).
    """
    paragraphs = text.split("\n\n")
    places = []
    fences = html = 0
    for at, paragraph in enumerate(paragraphs):
        stripped = paragraph.lstrip()
        prose = fences % 2 == 0 and html == 0 and stripped[:1].isalnum()
        if prose and at > 0 or len(paragraphs) == 1:
            places.append(at)
        fences += paragraph.count("```")
        html += len(re.findall(r"<(?:details|div)\b", paragraph))
        html = max(0, html - len(re.findall(r"</(?:details|div)>", paragraph)))
    if not places:
        return text.rstrip() + "\n\n" + sentence + "\n"
    at = rng.choice(places)
    paragraphs[at] = paragraphs[at].rstrip() + " " + sentence
    return "\n\n".join(paragraphs)


# -- corpora ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Corpus:
    """A named corpus: a BEIR folder (corpus.jsonl) or a folder of pages with a questions file."""

    name: str
    path: Path
    questions: Path | None

    @property
    def is_beir(self) -> bool:
        return (self.path / "corpus.jsonl").exists()

    @classmethod
    def parse(cls, spec: str) -> Corpus:
        """NAME=PATH[@QUESTIONS.jsonl]"""
        name, _, rest = spec.partition("=")
        if not name or not rest:
            raise ValueError(f"corpus {spec!r}: expected NAME=PATH[@QUESTIONS]")
        path, _, questions = rest.partition("@")
        corpus = cls(name, Path(path), Path(questions) if questions else None)
        if not corpus.path.is_dir():
            raise ValueError(f"corpus {name}: {corpus.path} is not a folder")
        if corpus.questions is not None and not corpus.questions.is_file():
            raise ValueError(f"corpus {name}: no questions file at {corpus.questions}")
        return corpus

    def spec(self) -> str:
        return f"{self.name}={self.path}" + (f"@{self.questions}" if self.questions else "")


def _natural(
    corpus: Corpus,
) -> tuple[dict[str, str], dict[str, dict[str, int]], dict[str, str]]:
    """The corpus' natural queries, graded judgements (keyed by document id) and each query's
    type where the questions name one (natural, identifier, name...)."""
    if corpus.is_beir:
        from evaluation.beir import load_beir

        dataset = load_beir(corpus.path)
        queries = dict(dataset.queries)
        qrels = {q: dict(j) for q, j in dataset.qrels.items()}
        path, key = corpus.path / "queries.jsonl", "_id"  # load_beir keeps no metadata
        records = [json.loads(line) for line in _lines(path)]
    elif corpus.questions is None:
        return {}, {}, {}
    else:
        key = "id"
        records = [json.loads(line) for line in _lines(corpus.questions)]
        queries = {r["id"]: r["query"] for r in records}
        qrels = {r["id"]: {str(k): int(v) for k, v in r["relevant"].items()} for r in records}
    types: dict[str, str] = {}
    for record in records:
        kind = record.get("type") or (record.get("metadata") or {}).get("type")
        if kind:
            types[str(record[key])] = str(kind)
    return queries, qrels, types


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def _build(corpus: Corpus, into: Path) -> tuple[Any, list[Planted]]:
    """A planted copy of the corpus under `into`, and its connector."""
    rng = random.Random(SEED + 2)
    if corpus.is_beir:
        from connectors.jsonl import JsonlConnector

        records = [
            json.loads(line)
            for line in (corpus.path / "corpus.jsonl").read_text(encoding="utf-8").split("\n")
            if line.strip()
        ]
        planted = plant([str(r["_id"]) for r in records], PLANTED_PAGES)
        by_doc = {p.doc_id: p for p in planted}
        with (into / "corpus.jsonl").open("w", encoding="utf-8") as out:
            for record in records:
                item = by_doc.get(str(record["_id"]))
                if item is not None:
                    record["text"] = _insert(record["text"], item.sentence, rng)
                out.write(json.dumps(record) + "\n")
        return JsonlConnector(into / "corpus.jsonl", corpus.name), planted

    from connectors.filesystem import FilesystemConnector

    shutil.copytree(corpus.path, into / "pages")
    connector = FilesystemConnector(into / "pages", corpus.name, include=("**/*.md",))
    planted = plant(sorted(ref.source_uri for ref in connector.list()), PLANTED_PAGES)
    for item in planted:
        page = into / "pages" / item.doc_id
        page.write_text(
            _insert(page.read_text(encoding="utf-8"), item.sentence, rng), encoding="utf-8"
        )
    return connector, planted


# -- fusion candidates -----------------------------------------------------------------------


def candidates() -> list[tuple[str, dict[str, Any]]]:
    """(label, RetrievalSettings fields) of every hybrid fusion the benchmark compares."""
    plain = BEFORE
    grid: list[tuple[str, dict[str, Any]]] = []
    for fusion in ("rrf", "weighted", "dbsf"):
        for weight in (0.5, 0.7, 0.8, 0.9, 0.95):
            fields = {"fusion": fusion, "dense_weight": weight, **plain}
            grid.append((f"{fusion} w={weight}", fields))
    for weight in (0.8, 0.9, 0.95):
        for exact, gap, place in (
            (False, 1.3, 0),
            (True, 0.0, 0),
            (True, 1.3, 0),
            (True, 1.5, 0),
            (True, 2.0, 0),
            (True, 1.3, 3),
            (False, 0.0, 3),
        ):
            for boost in (1.0, 3.0) if (exact, gap, place) == (True, 1.3, 0) else (3.0,):
                fields = {
                    "fusion": "rrf",
                    "dense_weight": weight,
                    "confident_cosine": 0.0,  # one weight: these rows compare the rules
                    "identifier_boost": boost,
                    "exact_identifiers": exact,
                    "anchor_gap": gap,
                    "sparse_place": place,
                }
                label = (
                    f"rrf w={weight} boost={boost:g} exact={int(exact)} gap={gap:g} place={place}"
                )
                grid.append((label, fields))
    for cosine in (0.0, 0.65, 0.7, 0.75):
        for unsure in (0.2, 0.3, 0.5) if cosine else (0.5,):
            fields = {"confident_cosine": cosine, "unsure_dense_weight": unsure}
            label = (
                f"default, below cosine {cosine:g} w={unsure:g}"
                if cosine
                else "default, one weight"
            )
            grid.append((label, fields))
    return grid


class CachedStore:
    """A store whose searches are remembered, so every fusion sees the same candidate lists."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._dense: dict[tuple[Any, ...], Any] = {}
        self._sparse: dict[tuple[Any, ...], Any] = {}

    def search_dense(self, vector: Sequence[float], limit: int, filters: Any = None) -> Any:
        key = (tuple(vector), limit, filters)
        if key not in self._dense:
            self._dense[key] = self._store.search_dense(vector, limit, filters)
        return self._dense[key]

    def search_sparse(self, vector: Any, limit: int, filters: Any = None) -> Any:
        key = (tuple(vector.indices), tuple(vector.values), limit, filters)
        if key not in self._sparse:
            self._sparse[key] = self._store.search_sparse(vector, limit, filters)
        return self._sparse[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class CachedEmbedder:
    def __init__(self, embedder: Any) -> None:
        self._embedder = embedder
        self._seen: dict[str, Any] = {}

    def embed_query(self, text: str) -> Any:
        if text not in self._seen:
            self._seen[text] = self._embedder.embed_query(text)
        return self._seen[text]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)


def score_exact(queries: Sequence[ExactQuery], rank: Callable[[str], list[str]]) -> dict[str, Any]:
    """Share of queries with their planted page first and in the top 10, overall and by type."""
    groups: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    misses: list[dict[str, Any]] = []
    for query in queries:
        ranked = rank(query.text)
        first = bool(ranked) and ranked[0] == query.doc_id
        top10 = query.doc_id in ranked[:10]
        for key in ("all", query.kind, f"{query.kind}/{query.form}", query.form):
            groups[key].append((first, top10))
        if not first:
            misses.append(
                {
                    "query": query.text,
                    "kind": query.kind,
                    "form": query.form,
                    "rank": ranked.index(query.doc_id) + 1 if top10 else None,
                }
            )
    return {
        "first": {k: statistics.fmean(f for f, _ in v) for k, v in sorted(groups.items())},
        "top10": {k: statistics.fmean(t for _, t in v) for k, v in sorted(groups.items())},
        "queries": len(queries),
        "misses": misses[:20],
    }


def phase_corpus(spec: str, keep: Path | None = None) -> dict[str, Any]:
    """Ingest one planted corpus with Steward's defaults; score dense, sparse and every fusion.

    With `keep`, the planted corpus and its index stay in that folder, and a second run over
    it re-ingests nothing (the sync sees no change): for trying fusions without re-embedding.
    """
    from app.runtime import open_runtime
    from evaluation.metrics import evaluate, per_query, ranked_run
    from retrieval.search import Retriever
    from steward.settings import HomeSettings, RetrievalSettings, Settings

    corpus = Corpus.parse(spec)
    work = keep / corpus.name if keep else Path(tempfile.mkdtemp(prefix="steward-exact-"))
    if keep:
        shutil.rmtree(work / "pages", ignore_errors=True)
        work.mkdir(parents=True, exist_ok=True)
    try:
        connector, planted = _build(corpus, work)
        exact = queries_for(planted)
        natural, qrels, types = _natural(corpus)
        settings = Settings(home=HomeSettings(home=work / "home"))
        runtime = open_runtime(settings)
        started = time.perf_counter()
        summary = runtime.pipeline.run(connector)
        ingest_s = time.perf_counter() - started
        if summary.status != "ok":
            raise SystemExit(f"{corpus.name}: ingest ended {summary.status}")
        indexed = {p.source_uri for p in runtime.store.source_chunks(corpus.name).values()}
        unknown = sorted({d for judged in qrels.values() for d in judged} - indexed)
        if unknown and not corpus.is_beir:
            raise SystemExit(f"{corpus.name}: judged pages not in the index: {unknown[:5]}")
        store, embedder = CachedStore(runtime.store), CachedEmbedder(runtime.embedder)

        def ranker(config: RetrievalSettings, mode: str) -> Callable[[str], list[str]]:
            retriever = Retriever(
                store, embedder, runtime.sparse, config, settings.hygiene, runtime.hygiene
            )

            def rank(text: str) -> list[str]:
                hits = retriever.retrieve(text, top_k=10, mode=mode).hits  # type: ignore[arg-type]
                return [h.payload.source_uri for h in hits]

            return rank

        def measure(label: str, config: RetrievalSettings, mode: str) -> dict[str, Any]:
            rank = ranker(config, mode)
            row: dict[str, Any] = {"label": label, "mode": mode, **score_exact(exact, rank)}
            if natural:
                run = ranked_run({q: rank(t) for q, t in natural.items()})
                row["natural"] = evaluate(qrels, run)
                if len(set(types.values())) > 1:
                    scores = per_query(qrels, run)
                    row["natural_by_type"] = {
                        kind: statistics.fmean(
                            scores[q]["ndcg@10"] for q in scores if types.get(q) == kind
                        )
                        for kind in sorted(set(types.values()))
                    }
            return row

        default = settings.retrieval
        plain = default.model_copy(update=BEFORE)
        rows = [
            measure("dense alone", plain, "dense"),
            measure("sparse alone (BM25)", plain, "sparse"),
            measure("default", default, "hybrid"),
        ]
        for label, fields in candidates():
            config = default.model_copy(update=fields)
            rows.append(measure(label, config, "hybrid"))

        # In-process latency, uncached and warm: the default against the fusion before exact
        # matching (BEFORE), alternating query by query so both see the same machine.
        live = runtime.retriever
        before = Retriever(
            runtime.store,
            runtime.embedder,
            runtime.sparse,
            default.model_copy(update=BEFORE),
            settings.hygiene,
            runtime.hygiene,
        )
        texts = [q.text for q in exact] + list(natural.values())
        for text in texts[:5]:
            live.retrieve(text)
            before.retrieve(text)
        samples: dict[str, list[float]] = {"default": [], "before": []}
        for _ in range(3):
            for text in texts:
                for name, retriever in (("default", live), ("before", before)):
                    began = time.perf_counter()
                    retriever.retrieve(text)
                    samples[name].append((time.perf_counter() - began) * 1000)
        chunks = runtime.store.count()
        runtime.close()
        return {
            "corpus": corpus.name,
            "documents": summary.listed,
            "chunks": chunks,
            "planted": len(planted),
            "exact_queries": len(exact),
            "natural_queries": len(natural),
            "ingest_s": ingest_s,
            "default": default.model_dump(),
            "default_p50_ms": statistics.median(samples["default"]),
            "before_p50_ms": statistics.median(samples["before"]),
            "rows": rows,
        }
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def report(results: Sequence[dict[str, Any]], labels: Sequence[str] | None = None) -> str:
    """One table: every corpus, each row's exact-match and natural-query figures."""
    lines = [
        "| corpus | retrieval | planted first | in top 10 | codes first | codes in a question first "
        "| names first | phrases first | natural nDCG@10 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        if "error" in result:
            lines.append(f"| {result.get('corpus', '?')} | failed: {result['error']} |")
            continue
        for row in result["rows"]:
            if labels is not None and row["label"] not in labels:
                continue
            first, top10 = row["first"], row["top10"]
            codes = [first.get(k) for k in ("code/bare", "error/bare", "version/bare")]
            asked = [first.get(k) for k in ("code/question", "error/question", "version/question")]
            phrases = [first.get(k) for k in ("phrase/phrase", "phrase/quoted")]
            natural = row.get("natural", {}).get("ndcg@10")
            lines.append(
                f"| {result['corpus']} | {row['label']} | {_fmt(first['all'])} | {_fmt(top10['all'])} "
                f"| {_fmt(_mean(codes))} | {_fmt(_mean(asked))} | {_fmt(first.get('name'))} "
                f"| {_fmt(_mean(phrases))} | {_fmt(natural)} |"
            )
    typed = [r for r in results if "rows" in r and any("natural_by_type" in w for w in r["rows"])]
    for result in typed:
        kinds = sorted({k for w in result["rows"] for k in w.get("natural_by_type", {})})
        lines += [
            f"\n{result['corpus']}: natural queries' nDCG@10 by type\n",
            "| retrieval | " + " | ".join(kinds) + " |",
            "|---|" + "---|" * len(kinds),
        ]
        for row in result["rows"]:
            if (labels is None or row["label"] in labels) and "natural_by_type" in row:
                by_type = row["natural_by_type"]
                cells = " | ".join(_fmt(by_type.get(k)) for k in kinds)
                lines.append(f"| {row['label']} | {cells} |")
    for result in results:
        if "default_p50_ms" in result:
            lines.append(
                f"\n{result['corpus']}: in-process p50 {result['default_p50_ms']:.2f} ms (default) "
                f"vs {result['before_p50_ms']:.2f} ms (fusion before exact matching), "
                f"{result['exact_queries']} exact + {result['natural_queries']} natural queries"
            )
    return "\n".join(lines)


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def run_all(corpora: Sequence[Corpus], keep: Path | None = None) -> list[dict[str, Any]]:
    results = []
    for corpus in corpora:
        extra = ("--keep", str(keep)) if keep else ()
        result = run_phase(__file__, "corpus", "--spec", corpus.spec(), *extra)
        results.append({"corpus": corpus.name, **result})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--corpus",
        action="append",
        default=[],
        help="NAME=PATH[@QUESTIONS.jsonl]; a BEIR folder or a folder of Markdown pages; repeatable",
    )
    parser.add_argument("--phase", choices=["corpus"])
    parser.add_argument("--spec")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "exact_match.json"
    )
    parser.add_argument(
        "--keep", type=Path, help="Keep planted corpora and indexes here (reused by later runs)."
    )
    parser.add_argument("--all-rows", action="store_true", help="Print every fusion candidate.")
    args = parser.parse_args()
    if args.phase:
        args.out.write_text(json.dumps(phase_corpus(args.spec, args.keep)))
        return
    try:
        corpora = [Corpus.parse(s) for s in args.corpus] or [
            Corpus.parse(f"msmarco={DEFAULT_DATA}")
        ]
    except ValueError as error:
        parser.error(str(error))
    results = run_all(corpora, args.keep)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(report(results, None if args.all_rows else SHOWN))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
