"""Golden query sets: queries with graded judgements keyed on document identity.

Two formats are read:

- JSON lines, one query a line: `{"query": "...", "relevant": [{"source_uri": "...", "grade": 2}]}`
  (`doc_id` instead of `source_uri`, an optional `source` and `id` too, and an optional
  `reference` answer, which the opt-in LLM-judged context precision needs);
- a BEIR folder: `queries.jsonl` and `qrels.tsv` or `qrels/test.tsv`, whose document ids are
  the source URIs of the documents (as `steward ingest corpus.jsonl` keys them).

Judgements never name chunks, so re-chunking or re-embedding never invalidates a set.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from steward.errors import QueryError


@dataclass(frozen=True, slots=True)
class Judgement:
    grade: int
    source_uri: str | None = None
    doc_id: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class GoldenQuery:
    query_id: str
    text: str
    relevant: list[Judgement] = field(default_factory=list)
    reference: str | None = None  # the expected answer, for LLM-judged context precision


def as_records(queries: list[GoldenQuery]) -> list[dict[str, Any]]:
    return [
        {
            "id": q.query_id,
            "query": q.text,
            "relevant": [{k: v for k, v in asdict(j).items() if v is not None} for j in q.relevant],
            **({"reference": q.reference} if q.reference else {}),
        }
        for q in queries
    ]


def parse_records(records: list[Any], origin: str = "body") -> list[GoldenQuery]:
    """Queries from `{"query", "relevant": [...]}` records; errors name the record and field."""
    if not records:
        raise QueryError("queries", f"{origin}: no queries")
    queries: list[GoldenQuery] = []
    seen: set[str] = set()
    for number, record in enumerate(records, start=1):
        where = f"{origin}: query {number}"
        if not isinstance(record, dict):
            raise QueryError("queries", f"{where}: must be an object")
        text = record.get("query")
        if not isinstance(text, str) or not text.strip():
            raise QueryError("queries", f"{where}: 'query' must be a non-empty string")
        query_id = str(record.get("id") or record.get("_id") or number)
        if query_id in seen:
            raise QueryError("queries", f"{where}: id {query_id!r} appears twice")
        seen.add(query_id)
        relevant = record.get("relevant")
        if not isinstance(relevant, list) or not relevant:
            raise QueryError("queries", f"{where}: 'relevant' must be a non-empty list")
        judgements = []
        for item in relevant:
            if not isinstance(item, dict) or not (item.get("source_uri") or item.get("doc_id")):
                raise QueryError(
                    "queries", f"{where}: each relevant item needs 'source_uri' or 'doc_id'"
                )
            grade = item.get("grade", 1)
            if isinstance(grade, bool) or not isinstance(grade, int) or grade < 0:
                raise QueryError("queries", f"{where}: 'grade' must be a whole number >= 0")
            judgements.append(
                Judgement(
                    grade=grade,
                    source_uri=item.get("source_uri"),
                    doc_id=item.get("doc_id"),
                    source=item.get("source"),
                )
            )
        reference = record.get("reference")
        if reference is not None and (not isinstance(reference, str) or not reference.strip()):
            raise QueryError("queries", f"{where}: 'reference' must be a non-empty string")
        queries.append(
            GoldenQuery(
                query_id, text.strip(), judgements, reference.strip() if reference else None
            )
        )
    return queries


def load_golden(path: Path) -> list[GoldenQuery]:
    """A golden set from a JSON lines file or a BEIR folder."""
    if path.is_dir():
        return _load_beir(path)
    if not path.is_file():
        raise QueryError("path", f"{path}: no such file or folder")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise QueryError("path", f"{path}:{number}: not JSON ({error.msg})") from None
    return parse_records(records, str(path))


def _load_beir(root: Path) -> list[GoldenQuery]:
    qrels_path = next(
        (p for p in (root / "qrels.tsv", root / "qrels" / "test.tsv") if p.is_file()), None
    )
    if qrels_path is None or not (root / "queries.jsonl").is_file():
        raise QueryError("path", f"{root}: a BEIR folder needs queries.jsonl and qrels(/test).tsv")
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if number == 1 and row and not row[-1].strip().isdigit():
                continue  # header
            if len(row) < 3 or not row[2].strip().isdigit():
                raise QueryError("path", f"{qrels_path}:{number}: expected query-id, doc-id, grade")
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    queries = []
    for line in (root / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            query_id = str(record["_id"])
            if query_id in qrels:
                judged = [Judgement(grade=g, source_uri=d) for d, g in qrels[query_id].items()]
                queries.append(GoldenQuery(query_id, str(record["text"]), judged))
    if not queries:
        raise QueryError("path", f"{root}: no judged queries")
    return queries
