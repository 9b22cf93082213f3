"""The desktop bundle (issue 16): installed size, and cold start to the sign-in window. Prints figures; not a test.

    python3 bench/bench_bundle.py [--program /usr/bin/registry-app] [--runs 7] [--lots 200] [--database URL]

Size: the installed .deb's Installed-Size (dpkg-query) and the bytes under the program's folder
(/opt/registry-app), else the built dist/registry-app when the package is not installed. Start: the program
launched on a private Xvfb, on an existing demo registry (made first with the program's own CLI unless
--database is given), timed until the sign-in window is mapped (xdotool polled every 20 ms), then closed;
several runs, each a new process. The files are then in the page cache (making the demo registry ran the
program); `--drop-caches` (root, Linux; slows every process on the machine for a moment) empties the cache
before each run, for a start from disk. Targets: installed size < 250 MB, start < 2 s. Needs xvfb, xdotool.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "resources" / "packaging"))
from xsession import Xvfb, stop, wait_for_window  # noqa: E402

SIGN_IN = "^Sign in"  # registry_app/ui/sign_in.py
SIZE_TARGET_MB, START_TARGET_S = 250, 2.0


def folder_bytes(folder: Path) -> int:
    return sum(path.lstat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def report_size(program: Path) -> None:
    installed = subprocess.run(
        ["dpkg-query", "-W", "-f=${Installed-Size}", "registry-app"], capture_output=True, text=True
    )
    if installed.returncode == 0 and installed.stdout.strip():
        kib = int(installed.stdout)
        print(
            f"installed size (dpkg Installed-Size of registry-app): {kib / 1024:.1f} MiB = {kib * 1024 / 1e6:.1f} MB"
            f"  [target < {SIZE_TARGET_MB} MB: {'met' if kib * 1024 / 1e6 < SIZE_TARGET_MB else 'NOT met'}]"
        )
    else:
        print("registry-app is not installed as a package (dpkg-query): the bundle folder's size only")
    folder = program.resolve().parent
    size = folder_bytes(folder)
    print(f"files under {folder}: {size / 1e6:.1f} MB ({size / 2**20:.1f} MiB)")
    debs = sorted((ROOT / "dist").glob("registry-app_*.deb"))
    if debs:
        print(f"package file {debs[-1].name}: {debs[-1].stat().st_size / 1e6:.1f} MB")


def start_once(program: Path, database: str, x: Xvfb, timeout: float) -> float:
    start = time.perf_counter()
    app = subprocess.Popen(
        [str(program), "--database", database], env=x.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_window(x.display, SIGN_IN, timeout, app)
        return time.perf_counter() - start
    finally:
        stop(app)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path("/usr/bin/registry-app")
    if not default.exists():
        default = ROOT / "dist" / "registry-app" / "registry-app"
    parser.add_argument("--program", type=Path, default=default, help=f"default {default}")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--lots", type=int, default=200, help="lots in the demo registry made for the runs")
    parser.add_argument("--database", help="an existing registry with users (default: a new demo registry)")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--drop-caches", action="store_true", help="empty the page cache before each run (root)")
    args = parser.parse_args()
    if not args.program.exists():
        print(
            f"no program at {args.program}: build it (resources/packaging/build.sh) or install the .deb",
            file=sys.stderr,
        )
        return 1
    print(f"program: {args.program} -> {args.program.resolve()}")
    report_size(args.program)

    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as tmp:
        database = args.database
        if database is None:
            database = f"sqlite:///{tmp}/demo.sqlite3"
            made = subprocess.run(
                [str(args.program), "--database", database, "demo", "--lots", str(args.lots)],
                capture_output=True,
                text=True,
            )
            if made.returncode != 0:
                print(f"the demo registry could not be made: {made.stderr.strip()}", file=sys.stderr)
                return 1
            print(f"demo registry: {args.lots} lots, made by the program's CLI in {tmp}")
        with Xvfb() as x:
            times = []
            for run in range(args.runs):
                if args.drop_caches:
                    os.sync()
                    Path("/proc/sys/vm/drop_caches").write_text("3\n")
                times.append(start_once(args.program, database, x, args.timeout))
                print(f"  run {run + 1}: sign-in window mapped {times[-1]:.3f} s after launch")
    cache = "page cache emptied before each run" if args.drop_caches else "files in the page cache"
    print(
        f"start to sign-in window ({cache}), {len(times)} runs: min {min(times):.2f} s, median "
        f"{statistics.median(times):.2f} s, max {max(times):.2f} s"
        f"  [target < {START_TARGET_S:g} s: {'met' if max(times) < START_TARGET_S else 'NOT met (max)'}]"
    )
    print("load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg()) + f" on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
