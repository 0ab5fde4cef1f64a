"""Run the benchmarks: ``python -m benchmarks [NAME ...] [--full]``.

Each ``benchmarks/bench_<name>.py`` has ``main(full: bool) -> str`` returning a Markdown
report; it is written to ``benchmarks/results/<name>.md``. Each runs in its own process
on a fresh embedded Redis (or ``REDIS_URL``), so one cannot warm or pollute another.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", help=f"subset of: {', '.join(available())}")
    parser.add_argument("--full", action="store_true", help="larger sizes (slow)")
    args = parser.parse_args()
    names = args.names or available()
    failed = []
    for name in names:
        started = time.monotonic()
        print(f"== {name}", flush=True)
        code = (
            "import sys, pathlib; from benchmarks import bench_{n} as b; "
            "report = b.main(full={full}); "
            "pathlib.Path('{out}').write_text(report); print(report)"
        ).format(n=name, full=args.full, out=HERE / "results" / f"{name}.md")
        result = subprocess.run([sys.executable, "-c", code], cwd=HERE.parent)
        print(
            f"== {name}: {'ok' if result.returncode == 0 else 'FAILED'} "
            f"in {time.monotonic() - started:.0f}s",
            flush=True,
        )
        if result.returncode:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
