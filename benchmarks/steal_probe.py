"""Does this machine stop now and then? ``python -m benchmarks.steal_probe [SECONDS]``.

Sleeps 10 ms in a loop and prints every wake-up that came over 30 ms late, with the
hypervisor's steal ticks (``/proc/stat``, 1/100 s each, all CPUs) counted since the
previous wake-up. Late wake-ups that match steal are the VM standing still, not a
process holding a core: every event loop on the machine lags as much (docs/service.md).
"""

from __future__ import annotations

import sys
import time


def _ticks() -> list[int]:
    with open("/proc/stat") as f:
        return [int(v) for v in f.readline().split()[1:]]


def probe(seconds: float) -> tuple[int, list[tuple[float, int]], float]:
    """(wake-ups, late ones as (ms late, steal ticks meanwhile), steal share of CPU time)."""
    first = previous = _ticks()
    late: list[tuple[float, int]] = []
    samples = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.perf_counter()
        time.sleep(0.01)
        overshoot = time.perf_counter() - start - 0.01
        now = _ticks()
        samples += 1
        if overshoot > 0.03:
            late.append((overshoot * 1000, now[7] - previous[7]))
        previous = now
    delta = [a - b for a, b in zip(previous, first, strict=True)]
    total = sum(delta[:8])
    return samples, late, (delta[7] / total if total else 0.0)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    samples, late, steal = probe(seconds)
    print(f"{samples} wake-ups in {seconds:.0f} s; steal {steal:.1%} of CPU time")
    print(f"{len(late)} over 30 ms late (ms late, steal ticks meanwhile):")
    print(", ".join(f"{ms:.0f} ({ticks})" for ms, ticks in late) or "none")


if __name__ == "__main__":
    main()
