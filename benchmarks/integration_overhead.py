"""Integration overhead: what the SDK and the framework retrievers add to a bare POST /retrieve.

A `steward serve` subprocess over msmarco-5k passages (the first --documents of them, ingested
with the bundled model); for each of --queries msmarco queries, the same request is made by
each caller in a rotating order: bare httpx (post, decode JSON), the SDK (`client.HttpClient`),
the LangChain retriever and the LlamaIndex retriever. The overhead is the median of the paired
per-query differences to the bare call (the server's time varies by query, not by caller).

    python benchmarks/integration_overhead.py [--data ../shared/datasets/msmarco-5k] [--queries 500]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "msmarco-5k"
STEWARD = Path(sys.executable).with_name("steward")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "integration_overhead.json"
    )
    args = parser.parse_args()

    import httpx

    from client import HttpClient
    from integrations.langchain import StewardRetriever as LangChainRetriever
    from integrations.llamaindex import StewardRetriever as LlamaIndexRetriever

    work = Path(tempfile.mkdtemp(prefix="steward-integrations-bench-"))
    env = {
        **os.environ,
        "STEWARD_HOME": str(work / "home"),
        "STEWARD_JOBS_EMBEDDED_SCHEDULER": "false",
    }
    corpus = work / "corpus.jsonl"
    with (args.data / "corpus.jsonl").open(encoding="utf-8") as source, corpus.open("w") as out:
        out.writelines(itertools.islice(source, args.documents))
    started = time.perf_counter()
    subprocess.run(
        [str(STEWARD), "ingest", str(corpus), "--source", "msmarco", "--json"],
        env=env,
        cwd=work,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    ingest_s = time.perf_counter() - started
    with (args.data / "queries.jsonl").open(encoding="utf-8") as lines:
        queries = [json.loads(line)["text"] for line in itertools.islice(lines, args.queries)]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(STEWARD), "serve", "--port", str(port)],
        env=env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("steward serve did not start")
            time.sleep(0.25)

        bare = httpx.Client(base_url=url, timeout=60)
        sdk = HttpClient(url)
        langchain = LangChainRetriever(url=url, top_k=args.top_k)
        llamaindex = LlamaIndexRetriever(url, top_k=args.top_k)
        callers: dict[str, Callable[[str], Any]] = {
            "bare httpx": lambda q: bare.post(
                "/retrieve", json={"query": q, "top_k": args.top_k}
            ).json(),
            "SDK (HttpClient)": lambda q: sdk.retrieve(q, top_k=args.top_k),
            "LangChain retriever": langchain.invoke,
            "LlamaIndex retriever": llamaindex.retrieve,
        }
        for caller in callers.values():  # warm up: connections, the model's first passes
            for query in queries[:5]:
                caller(query)
        times: dict[str, list[float]] = {name: [] for name in callers}
        names = list(callers)
        for i, query in enumerate(queries):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                t0 = time.perf_counter()
                callers[name](query)
                times[name].append((time.perf_counter() - t0) * 1000)
        recorded = bare.post("/retrieve", json={"query": queries[0], "top_k": args.top_k}).content
        for closing in (bare, sdk, langchain, llamaindex):
            closing.close()
    finally:
        server.terminate()
        server.wait(timeout=30)

    base = times["bare httpx"]
    rows = []
    for name, taken in times.items():
        paired = [a - b for a, b in zip(taken, base, strict=True)]
        rows.append(
            {
                "caller": name,
                "p50_ms": round(statistics.median(taken), 3),
                "overhead_p50_ms": round(statistics.median(paired), 3),
            }
        )
    print(
        f"{len(queries)} msmarco queries, top_k {args.top_k}, over {args.documents} passages "
        f"(ingested in {ingest_s:.0f} s)\n"
    )
    print(
        "| caller | p50 per call (ms) | overhead over bare /retrieve, p50 of paired differences (ms) |"
    )
    print("|---|---:|---:|")
    for row in rows:
        print(f"| {row['caller']} | {row['p50_ms']:.2f} | {row['overhead_p50_ms']:+.2f} |")
    isolated = client_side(recorded, args.top_k)
    print("\nClient-side work alone (httpx.MockTransport replays a recorded answer; no server):\n")
    print("| caller | p50 per call (ms) | over bare httpx (ms) |")
    print("|---|---:|---:|")
    for name, cost in isolated.items():
        print(f"| {name} | {cost:.3f} | {cost - isolated['bare httpx']:+.3f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "queries": len(queries),
                "documents": args.documents,
                "top_k": args.top_k,
                "rows": rows,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


def client_side(recorded: bytes, top_k: int, calls: int = 2000) -> dict[str, float]:
    """p50 per call of each caller with the server replaced by a recorded answer."""
    import httpx

    from client import HttpClient
    from integrations.langchain import StewardRetriever as LangChainRetriever
    from integrations.llamaindex import StewardRetriever as LlamaIndexRetriever

    answer = httpx.Response(200, content=recorded, headers={"content-type": "application/json"})
    transport = httpx.MockTransport(lambda request: answer)
    bare = httpx.Client(base_url="http://steward", transport=transport)
    sdk = HttpClient("http://steward", transport=transport)
    langchain = LangChainRetriever(client=sdk, top_k=top_k)
    llamaindex = LlamaIndexRetriever(client=sdk, top_k=top_k)
    callers: dict[str, Callable[[], Any]] = {
        "bare httpx": lambda: bare.post("/retrieve", json={"query": "q", "top_k": top_k}).json(),
        "SDK (HttpClient)": lambda: sdk.retrieve("q", top_k=top_k),
        "LangChain retriever": lambda: langchain.invoke("q"),
        "LlamaIndex retriever": lambda: llamaindex.retrieve("q"),
    }
    found = {}
    for name, call in callers.items():
        for _ in range(50):
            call()
        taken = []
        for _ in range(calls):
            t0 = time.perf_counter()
            call()
            taken.append((time.perf_counter() - t0) * 1000)
        found[name] = round(statistics.median(taken), 4)
    return found


if __name__ == "__main__":
    main()
