"""``python -m bench [substring ...]``: run benchmarks (all, or those whose name matches)."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import traceback
from pathlib import Path

from bench.core import render_table


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    filters = [arg for arg in argv if not arg.startswith("-")]
    modules = sorted(
        name
        for _, name, _ in pkgutil.iter_modules([str(Path(__file__).parent)])
        if name.startswith("bench_")
    )
    rows = []
    for name in modules:
        module = importlib.import_module(f"bench.{name}")
        for bench in getattr(module, "BENCHMARKS", []):
            if filters and not any(f in bench.name or f in name for f in filters):
                continue
            print(f"… {bench.group}: {bench.name}", file=sys.stderr, flush=True)
            try:
                result = bench.run()
            except Exception as error:  # noqa: BLE001 - one failing benchmark must not hide the others
                traceback.print_exc()
                result = error
            rows.append((bench, result))
    print()
    print(render_table(rows))
    return 1 if any(isinstance(result, Exception) for _, result in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
