"""Import cost of helixkit's entry points: best and median of N fresh interpreters.

    python scripts/import_times.py [N]          # the helixkit that `python` imports

Prints a Markdown table (milliseconds) and which heavy modules each entry point pulled in.
"""

from __future__ import annotations

import subprocess
import sys
import time

HELP = "from helixkit.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
ENTRIES = {
    "python -c pass": "pass",
    "import helixkit": "import helixkit",
    "import helixkit.data": "import helixkit.data",
    "import helixkit.learned, helixkit.nn, helixkit.trackformer":
        "import helixkit.learned, helixkit.nn, helixkit.trackformer",
    "helixkit --help": HELP,
    "import helixkit.models (the old layout's registry)": "import helixkit.models",
    "from helixkit.learned import LearnedTracking (torch)":
        "from helixkit.learned import LearnedTracking",
}
PROBE = ("\nimport sys\nprint('HEAVY:', *sorted({m.split('.')[0] for m in sys.modules} & "
         "{'torch', 'numba', 'matplotlib', 'pandas', 'scipy'}))")


def main(n: int = 10) -> None:
    print("| entry point | best ms | median ms | heavy modules imported |")
    print("|---|---|---|---|")
    for name, code in ENTRIES.items():
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            ok = subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
            times.append(time.perf_counter() - t0)
        if not ok:
            print(f"| `{name}` | — | — | not importable here |")
            continue
        out = subprocess.run([sys.executable, "-c", code + PROBE], capture_output=True,
                             text=True, check=True).stdout
        heavy = out.rsplit("HEAVY:", 1)[1].split() or ["none"]
        times.sort()
        print(f"| `{name}` | {1e3 * times[0]:.0f} | {1e3 * times[len(times) // 2]:.0f} | "
              f"{', '.join(heavy)} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
