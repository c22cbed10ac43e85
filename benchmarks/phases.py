"""Running one benchmark phase in a fresh process, and formatting its figures."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def run_phase(script: str, name: str, *args: str) -> dict[str, Any]:
    """`script --phase name *args` in a fresh process (its own memory and warm-up); its JSON.

    A phase that fails returns {"error": ...} so the other phases still report.
    """
    print(f"running {name} ...", file=sys.stderr, flush=True)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        target = Path(handle.name)
    try:
        command = [sys.executable, script, "--phase", name, *args, "--out", str(target)]
        done = subprocess.run(command, check=False)
        if done.returncode != 0:
            return {"error": f"phase {name} exited with {done.returncode} (see its stderr)"}
        result: dict[str, Any] = json.loads(target.read_text())
        return result
    finally:
        target.unlink(missing_ok=True)


def _fmt(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"
