"""What every benchmark shares: a server of its own, interleaved rounds, a ratio report.

The machines are shared and noisy, so a benchmark never reports a bare rate: each round
measures the baseline and the candidate back to back, and the report gives the median
ratio over the rounds beside the median rates.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from qunping.operator import infra

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@dataclass
class Comparison:
    name: str
    unit: str
    baseline: str
    baseline_rates: list[float]
    candidate_rates: list[float]
    target: float | None = None

    @property
    def ratios(self) -> list[float]:
        return [c / b for b, c in zip(self.baseline_rates, self.candidate_rates, strict=True)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def line(self) -> str:
        candidate = statistics.median(self.candidate_rates)
        baseline = statistics.median(self.baseline_rates)
        verdict = ""
        if self.target is not None:
            met = "met" if self.ratio >= self.target else "MISSED"
            verdict = f"  target ≥ {self.target:.2f} {met}"
        return (
            f"{self.name:<38} {candidate:>10,.0f} {self.unit:<9}"
            f"ratio {self.ratio:.2f} vs {self.baseline} {baseline:,.0f}{verdict}"
        )


def rate(operations: int, action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return operations / (time.perf_counter() - started)


def interleaved(
    chunks: int,
    per_chunk: int,
    baseline: Callable[[int], object],
    candidate: Callable[[int], object],
) -> tuple[float, float]:
    """Both rates, measured in alternating chunks so that drift (the server slowing as it
    fills, a neighbour's load) falls on both alike. Each callable gets the chunk number."""
    spent = [0.0, 0.0]
    for chunk in range(chunks):
        for side, action in enumerate((baseline, candidate)):
            started = time.perf_counter()
            action(chunk)
            spent[side] += time.perf_counter() - started
    operations = chunks * per_chunk
    return operations / spent[0], operations / spent[1]


@contextmanager
def mongo_server() -> Iterator[str]:
    """QUNPING_BENCH_MONGO_URI if set, else a fresh secantusd-py of this run's own."""
    if "QUNPING_BENCH_MONGO_URI" in os.environ:
        yield os.environ["QUNPING_BENCH_MONGO_URI"]
        return
    port = infra.free_port()
    with tempfile.TemporaryDirectory(prefix="qunping-bench-") as scratch:
        process = infra.start_secantus(
            port, Path(scratch) / "data", Path(scratch) / "mongodb.log", outlive_starter=False
        )
        uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        try:
            infra._wait_for(lambda: infra.mongo_reachable(uri, 500) is None, 60, uri)
            yield uri
        finally:
            process.terminate()
            process.wait(timeout=60)


def report(title: str, comparisons: list[Comparison], artifact: str) -> None:
    print(f"\n{title}")
    for comparison in comparisons:
        print("  " + comparison.line())
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / artifact).write_text(
        json.dumps(
            [{**asdict(c), "ratio": c.ratio, "ratios": c.ratios} for c in comparisons],
            indent=2,
            ensure_ascii=False,
        )
    )
    print(f"  (rounds and rates in {ARTIFACTS / artifact})")
