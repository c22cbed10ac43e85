"""Conflict benchmark: the rule-based value-conflict detector on SICK sentence pairs.

Each SICK pair (sentence_A, sentence_B) is passed to `hygiene.conflicts.compare_texts`; a pair
is predicted a contradiction when at least one conflict comes back, and is scored against the
CONTRADICTION label (ENTAILMENT and NEUTRAL count as negatives). SICK is image-caption English
("A man is playing a guitar" / "There is no man playing a guitar"), far from knowledge-base
policy text, so the figures say what the negation rule catches off its home ground, not how
the detector does on documents. Prints a table and writes JSON.

    python benchmarks/conflicts_sick.py [--data ../shared/datasets/sick/SICK.txt] [--out FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "sick" / "SICK.txt"


def load_pairs(path: Path) -> list[tuple[str, str, str]]:
    """(sentence_A, sentence_B, entailment_label) for every row of SICK.txt."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(r["sentence_A"], r["sentence_B"], r["entailment_label"]) for r in reader]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "conflicts_sick.json"
    )
    parser.add_argument("--examples", type=int, default=5, help="examples to print per outcome")
    args = parser.parse_args()

    from hygiene.conflicts import compare_texts

    pairs = load_pairs(args.data)
    tp = fp = fn = tn = 0
    kinds: dict[str, Counter[str]] = {"tp": Counter(), "fp": Counter()}
    labels = Counter(label for _, _, label in pairs)
    fp_by_label: Counter[str] = Counter()
    examples: dict[str, list[dict[str, str]]] = {"tp": [], "fp": [], "fn": []}
    started = time.perf_counter()
    predictions = [compare_texts(a, b) for a, b, _ in pairs]
    elapsed = time.perf_counter() - started

    for (a, b, label), found in zip(pairs, predictions, strict=True):
        gold = label == "CONTRADICTION"
        if found and gold:
            tp += 1
            outcome = "tp"
        elif found:
            fp += 1
            fp_by_label[label] += 1
            outcome = "fp"
        elif gold:
            fn += 1
            outcome = "fn"
        else:
            tn += 1
            continue
        if found:
            kinds[outcome][found[0].kind] += 1
        if len(examples[outcome]) < args.examples:
            example = {"a": a, "b": b, "label": label}
            if found:
                example |= {"kind": found[0].kind, "a_value": found[0].a_value}
                example |= {"b_value": found[0].b_value}
            examples[outcome].append(example)

    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    results = {
        "pairs": len(pairs),
        "labels": dict(labels),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "tp_by_kind": dict(kinds["tp"]),
        "fp_by_kind": dict(kinds["fp"]),
        "fp_by_gold_label": dict(fp_by_label),
        "ms_per_pair": round(elapsed / len(pairs) * 1000, 4),
        "examples": examples,
    }

    print(f"SICK: {len(pairs)} pairs ({', '.join(f'{k} {v}' for k, v in labels.items())})")
    print()
    print("| pairs | TP | FP | FN | precision | recall | F1 | ms/pair |")
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {len(pairs)} | {tp} | {fp} | {fn} | {precision:.3f} | {recall:.3f} | {f1:.3f} "
        f"| {results['ms_per_pair']:.3f} |"
    )
    print()
    print("| kind | TP | FP |")
    print("|---|---|---|")
    for kind in sorted(set(kinds["tp"]) | set(kinds["fp"])):
        print(f"| {kind} | {kinds['tp'][kind]} | {kinds['fp'][kind]} |")
    print()
    print(f"false positives by gold label: {dict(fp_by_label)}")
    for outcome in ("tp", "fp", "fn"):
        print(f"\n{outcome.upper()} examples:")
        for example in examples[outcome]:
            extra = f"  [{example.get('kind')}: {example.get('a_value')!r} / {example.get('b_value')!r}]"
            print(f"  {example['a']}  ||  {example['b']}" + (extra if "kind" in example else ""))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
