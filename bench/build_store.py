"""Build a large demo store and report time, throughput, peak memory and size.

    .venv/bin/python -m bench.build_store --residents 1000000 --out /path/store.db

The store is kept (other benchmarks reuse it); delete it yourself. Results are appended as one
JSON line to bench/results/build_store.jsonl.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

from core.clock import SystemClock
from storage.demo_store import build_demo_store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.out.exists():
        parser.error(f"{args.out} exists; remove it first")
    started = time.perf_counter()
    marks: list[tuple[int, float]] = []

    def progress(done: int, total: int) -> None:
        marks.append((done, time.perf_counter() - started))
        if done % 100_000 == 0 or done == total:
            sys.stderr.write(f"\r{done:>9,}/{total:,} residents  {marks[-1][1]:7.1f} s")

    summary = build_demo_store(
        args.out, residents=args.residents, seed=args.seed, clock=SystemClock(), progress=progress
    )
    elapsed = time.perf_counter() - started
    sys.stderr.write("\n")
    size = sum(p.stat().st_size for p in args.out.parent.glob(args.out.name + "*"))
    result = {
        "benchmark": "build_store",
        "residents": summary.residents,
        "records": summary.records,
        "seconds": round(elapsed, 1),
        "residents_per_second": round(summary.residents / elapsed),
        "records_per_second": round(summary.records / elapsed),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "store_mib": round(size / 2**20, 1),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.node()}",
    }
    print(json.dumps(result, ensure_ascii=False))
    results = Path(__file__).with_name("results") / "build_store.jsonl"
    with results.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
