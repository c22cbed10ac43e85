"""A fetched documentation tree and a question set, written as a BEIR-format dataset.

The messy-KB generator (benchmarks/messy_kb.py) reads BEIR sets; this turns a tree of pages
fetched from a public repository into one, outside the project, so that hygiene is measured on
knowledge bases of other kinds than msmarco's web passages:

- `markdown`: a handbook or docs tree (front matter and the first `# ` heading give the title);
- `pep`: Python Enhancement Proposals (`peps/pep-NNNN.rst`): long, templated proposals whose
  header fields (Status, Type, Created, Python-Version) and release schedules differ between
  distinct documents, the way seasons and yearly reports do.

Each page's id is its path with "/" written "__" (the generator puts ids in file names). Pages
longer than `--max-chars` are cut at the last paragraph break before it. Questions are JSON lines
`{"id", "query", "relevant": {path: grade}}` (benchmarks/queries/*.jsonl).

    python benchmarks/docs_beir.py --kind markdown --tree DIR --questions FILE --out DIR
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import frontmatter

_PEP_FIELD = re.compile(r"^([A-Z][A-Za-z-]*):\s*(.*)$")
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def doc_id(relpath: str) -> str:
    """A page's id in the dataset: its path, usable inside a file name."""
    return relpath.replace("/", "__")


def cut(text: str, max_chars: int) -> str:
    """`text` up to `max_chars`, ending at a paragraph break when there is one."""
    text = text.strip()
    if max_chars <= 0 or len(text) <= max_chars:
        return text
    head = text[:max_chars]
    at = head.rfind("\n\n")
    return (head[:at] if at > max_chars // 2 else head).rstrip()


def markdown_page(path: Path) -> tuple[str, str]:
    """(title, body) of a Markdown page with optional front matter."""
    post = frontmatter.loads(path.read_text(encoding="utf-8"))
    body = post.content.strip()
    title = str(post.metadata.get("title") or "").strip()
    if not title:
        heading = _HEADING.search(body)
        title = heading.group(1).strip() if heading else path.stem.replace("-", " ")
    return title, body


def pep_page(path: Path) -> tuple[str, str]:
    """(title, body) of a PEP: "PEP 8 – Style Guide for Python Code", header fields kept."""
    text = path.read_text(encoding="utf-8")
    header, _, rest = text.partition("\n\n")
    fields: dict[str, str] = {}
    for line in header.splitlines():
        match = _PEP_FIELD.match(line)
        if match:
            fields[match.group(1)] = match.group(2).strip()
    if "PEP" not in fields or "Title" not in fields:
        raise ValueError(f"{path}: no PEP header (PEP: and Title: lines)")
    kept = [
        f"{name}: {fields[name]}"
        for name in ("Author", "Status", "Type", "Created", "Python-Version")
        if name in fields
    ]
    return f"PEP {int(fields['PEP'])} – {fields['Title']}", "\n".join(kept) + "\n\n" + rest


READERS = {"markdown": (markdown_page, ("*.md",)), "pep": (pep_page, ("pep-[0-9]*.rst",))}


def convert(
    kind: str, tree: Path, questions: Path, out: Path, max_chars: int = 0
) -> dict[str, Any]:
    """Write out/corpus.jsonl, out/queries.jsonl and out/qrels/test.tsv; counts."""
    read, patterns = READERS[kind]
    pages = sorted({p for pattern in patterns for p in tree.rglob(pattern) if p.is_file()})
    if not pages:
        raise SystemExit(f"no {kind} pages under {tree}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "qrels").mkdir(exist_ok=True)
    ids: set[str] = set()
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as corpus:
        for path in pages:
            title, body = read(path)
            body = cut(body, max_chars)
            if not body:
                continue
            ident = doc_id(path.relative_to(tree).as_posix())
            ids.add(ident)
            corpus.write(json.dumps({"_id": ident, "title": title, "text": body}) + "\n")
    judged = 0
    missing: list[str] = []
    with (
        (out / "queries.jsonl").open("w", encoding="utf-8") as queries,
        (out / "qrels" / "test.tsv").open("w", encoding="utf-8") as qrels,
    ):
        qrels.write("query-id\tcorpus-id\tscore\n")
        for line in questions.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            question = json.loads(line)
            grades = {doc_id(p): int(g) for p, g in question["relevant"].items()}
            missing += [p for p in grades if p not in ids]
            grades = {p: g for p, g in grades.items() if p in ids}
            if not grades:
                continue
            judged += 1
            record = {"_id": question["id"], "text": question["query"]}
            if "type" in question:  # natural, version, identifier, name, quoted
                record["metadata"] = {"type": question["type"]}
            queries.write(json.dumps(record) + "\n")
            for page, grade in grades.items():
                qrels.write(f"{question['id']}\t{page}\t{grade}\n")
    if missing:
        raise SystemExit(f"{len(missing)} judged pages are not in the tree, e.g. {missing[:3]}")
    return {"pages": len(ids), "queries": judged}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kind", choices=sorted(READERS), required=True)
    parser.add_argument("--tree", type=Path, required=True, help="the fetched pages' root")
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--max-chars", type=int, default=0, help="cut longer pages (0: never)")
    args = parser.parse_args()
    counts = convert(args.kind, args.tree, args.questions, args.out, args.max_chars)
    print(f"{counts['pages']} pages, {counts['queries']} judged queries written to {args.out}")


if __name__ == "__main__":
    main()
