"""Shared plumbing for the benchmark scripts: threads, arguments, JSON results, tables.

Every benchmark pins PyTorch to a fixed number of threads (1 by default; a busy 2-core
machine otherwise slows small models by an order of magnitude), prints a table, and writes
its numbers with the command that produced them to ``benchmarks/results/<name>.json``.
``docs/reproductions.md`` is generated from those files by ``benchmarks/report.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def setup(description: str, argv: list[str] | None = None, **extra: Any) -> argparse.Namespace:
    """Parse ``--quick``/``--threads``/``--seeds`` (plus ``extra`` options) and pin threads."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", type=Path, default=None, help="JSON result path")
    for name, (kind, default, text) in extra.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default, help=text)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.set_num_threads(args.threads)
    args.started = time.time()
    return args


def command_line() -> str:
    """The command that ran this benchmark, as a user would type it."""
    script = Path(sys.argv[0]).resolve()
    if script.is_relative_to(Path.cwd()):
        script = script.relative_to(Path.cwd())
    return " ".join(["python", str(script), *sys.argv[1:]])


def write_result(name: str, args: argparse.Namespace, payload: dict[str, Any]) -> Path:
    """Write ``payload`` with run metadata to the results folder (quick runs to ``*-quick``)."""
    import torch

    out = args.out or RESULTS / f"{name}{'-quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": name,
        "command": command_line(),
        "quick": bool(args.quick),
        "threads": args.threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "seconds": round(time.time() - args.started, 1),
        "date": time.strftime("%Y-%m-%d"),
        **payload,
    }
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=float))
    os.replace(tmp, out)
    print(f"wrote {out}")
    return out


def cpu_info() -> dict[str, Any]:
    """The CPU model, PyTorch's CPU capability, and whether the CPU multiplies bfloat16
    natively (AVX512-BF16 or AMX), for a result file: speed ratios hold for their machine.

    Without native bf16, oneDNN emulates bf16 products and a bf16 row is much slower than
    fp32: its numbers depend on the machine far more than an fp32 comparison does.
    """
    import torch

    model, flags = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return {
        "model": model,
        "capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": bool(flags & {"avx512_bf16", "amx_bf16"}),
    }


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    """A plain-text table."""
    cells = [[f"{c:.4g}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
