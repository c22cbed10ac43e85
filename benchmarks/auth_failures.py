"""What counting failed authentications costs a caller whose key is good (issue 11).

Times `Authenticator.resolve` of a valid API key, in this process, without the failure
throttle (the baseline) and with it: an address that never failed, one with failures below the
limit, and with 10,000 other addresses tracked. Rounds alternate so load drifts hit each case
alike; the machine is shared, so only ratios within a run count. Prints a table and writes JSON.

    python benchmarks/auth_failures.py [--calls 20000] [--rounds 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from steward.access import ApiKey, KeyRing, Principal, Role, digest  # noqa: E402
from steward.auth_failures import MAX_TRACKED, FailureThrottle  # noqa: E402
from steward.authentication import Authenticator  # noqa: E402

KEY = "benchmark-key-000000000001"


def _ring() -> KeyRing:
    # Twenty declared keys: the ring compares against every one (constant time).
    keys = [
        ApiKey(digest(f"other-key-{n:016d}"), Principal(f"k{n}", Role.READER)) for n in range(19)
    ]
    return KeyRing([*keys, ApiKey(digest(KEY), Principal("bench", Role.READER))])


def _cases() -> dict[str, tuple[Authenticator, str | None]]:
    ring = _ring()
    below = FailureThrottle(10, 60)
    for _ in range(9):
        below.failed("10.9.9.9")
    crowded = FailureThrottle(10, 60)
    for n in range(MAX_TRACKED - 1):
        crowded.failed(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    return {
        "no throttle (baseline)": (Authenticator(ring), "10.9.9.9"),
        "throttle, address never failed": (
            Authenticator(ring, throttle=FailureThrottle(10, 60)),
            "10.9.9.9",
        ),
        "throttle, 9 of 10 failures": (Authenticator(ring, throttle=below), "10.9.9.9"),
        f"throttle, {MAX_TRACKED - 1} addresses tracked": (
            Authenticator(ring, throttle=crowded),
            "10.200.0.1",
        ),
    }


def _time(auth: Authenticator, client: str | None, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        auth.resolve(KEY, client)
    return (time.perf_counter() - started) / calls * 1e6  # µs a call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/auth_failures.json")
    args = parser.parse_args()
    cases = _cases()
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (auth, client) in cases.items():
            timings[name].append(_time(auth, client, args.calls))
    base = statistics.median(timings["no throttle (baseline)"])
    rows: list[dict[str, Any]] = []
    for name, values in timings.items():
        median = statistics.median(values)
        rows.append({"case": name, "us_per_call": round(median, 2), "ratio": median / base})
    load = os.getloadavg()
    width = max(len(row["case"]) for row in rows)
    print(f"{'case':<{width}}  µs/call  ratio")  # noqa: T201
    for row in rows:
        print(f"{row['case']:<{width}}  {row['us_per_call']:7.2f}  {row['ratio']:.2f}")  # noqa: T201
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # noqa: T201
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"calls": args.calls, "rounds": args.rounds, "load": load, "rows": rows}),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
