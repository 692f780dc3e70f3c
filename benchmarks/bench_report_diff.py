"""Example-browser diff time on pathological pairs (issue 11 defect 7): the Myers diff with a work budget
must stay bounded where difflib's matcher was cubic (the "blank-sep" pair of 2,000 lines took 120 s).

    python benchmarks/bench_report_diff.py
"""

from __future__ import annotations

import random
import time

from crome_audit.report.examples import DiffWork, word_diff


def cases(rng):
    yield "blank-shift", lambda n: ("\n" * n + "X", "Y" + "\n" * n)
    yield "blank-mix", lambda n: ("".join(rng.choice(["\n", "\n", "\n", "a\n"]) for _ in range(n)),
                                  "".join(rng.choice(["\n", "\n", "\n", "b\n"]) for _ in range(n)))
    yield "blank-sep", lambda n: ("\n".join("" if i % 3 else f"a{i}" for i in range(n)),
                                  "\n".join("" if i % 3 else f"b{i}" for i in range(n)))
    yield "append", lambda n: ("word " * n, "word " * n + "and one more sentence.")


def main() -> None:
    rng = random.Random(0)
    print(f"{'case':<12}{'lines':>7}{'chars':>8}{'seconds':>9}{'steps':>9}  capped")
    for name, make in cases(rng):
        for n in (1000, 2000, 4000, 8000):
            a, b = make(n)
            work = DiffWork()
            t = time.perf_counter()
            word_diff(a, b, work)
            print(f"{name:<12}{n:>7}{len(a) + len(b):>8}{time.perf_counter() - t:>9.2f}{work.steps:>9}  {work.capped}")


if __name__ == "__main__":
    main()
