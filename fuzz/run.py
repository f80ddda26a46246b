"""atheris harness: ``python -m fuzz.run TARGET [--seconds N] [libFuzzer args...]``.

Runs one ``fuzz.targets`` target under coverage-guided fuzzing; a typed parser error is a
normal outcome, anything else is a crash (libFuzzer writes ``crash-*`` into the current
directory and exits non-zero). ``--seconds`` maps to ``-max_total_time``. The seed corpus
(real objects from the emulator) is written into a temporary directory first.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import atheris  # only this harness needs it

    # Instrument only our parsers (instrumenting every loaded library costs ~30 s per start).
    with atheris.instrument_imports(include=["card", "agent", "fuzz"]):
        from fuzz.targets import TARGETS, call, seeds

    parser = argparse.ArgumentParser(prog="python -m fuzz.run")
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--seconds", type=int, default=10, help="at least 1 (0 = no limit)")
    args, extra = parser.parse_known_args(argv)
    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{args.target}-"))
    for i, seed in enumerate(seeds()[args.target]):
        (corpus / f"seed{i}").write_bytes(seed)

    def one(data: bytes) -> None:
        call(args.target, data)

    libfuzzer = [sys.argv[0], f"-max_total_time={args.seconds}", "-max_len=4096",
                 "-print_final_stats=1", *extra, str(corpus)]
    atheris.Setup(libfuzzer, one)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
