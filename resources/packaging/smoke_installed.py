"""Drive the installed desktop program on a private X server: sign in, wait for the main window, screenshot it.

    python3 resources/packaging/smoke_installed.py --program /usr/bin/registry-app \\
        --database sqlite:////tmp/demo.sqlite3 --out artifacts/screenshots

Exits 1 with one line saying what failed: the program exited, no sign-in window, sign-in refused, no main
window, an error box, a blank screenshot, or no dashboard (its charts need QtCharts). Writes
bundle-main-window.png and bundle-dashboard.png (and bundle-failure.png when a step fails after the X server
started). Run by ci_bundle.sh; the demo registry must have the demo accounts.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contextlib

from xsession import XError, Xvfb, screenshot, stop, type_into, visible_windows, wait_for_window

SIGN_IN = "^Sign in"  # ui/sign_in.py: "Sign in — Exosome & PN lot registry"
MAIN = "^Exosome & PN lot registry$"  # ui/main_window.py; the sign-in title ends with the same words
ERROR_BOXES = "^(Registry|Error)"  # ui/app.py's QMessageBox titles when a registry cannot be opened


class SmokeFailure(RuntimeError):
    pass


def run(program: str, database: str, user: str, password: str, out: Path, timeout: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with Xvfb() as x:
        log = out / "bundle-program.log"
        with log.open("wb") as output:
            app = subprocess.Popen(
                [program, "--database", database], env=x.env(), stdout=output, stderr=subprocess.STDOUT
            )
        try:
            try:
                start = time.perf_counter()
                sign_in = wait_for_window(x.display, SIGN_IN, timeout, app)
                print(f"sign-in window mapped {time.perf_counter() - start:.2f} s after launch ({x.display})")
                # The dialog opens with the focus in the user name (sign_in.py: no user given), then Tab.
                type_into(x.display, sign_in, user, "<Tab>", password, "<Return>")
                first_wait = min(timeout, 15.0)
                try:
                    main = wait_for_window(x.display, MAIN, first_wait, app)
                except XError:
                    if not visible_windows(x.display, SIGN_IN):
                        raise
                    # Once more, in case a key was lost: after a refusal the dialog keeps the user name and
                    # puts the focus in the emptied password field (Shift+Tab goes back to the name).
                    print(f"still at sign-in after {first_wait:g} s: typing the user name and password once more")
                    screenshot(x.display).save_png(out / "bundle-sign-in-retry.png")
                    type_into(x.display, sign_in, "<shift+Tab>", "<ctrl+a>", user, "<Tab>", password, "<Return>")
                    try:
                        main = wait_for_window(x.display, MAIN, timeout, app)
                    except XError as error:
                        if visible_windows(x.display, SIGN_IN):
                            raise SmokeFailure(
                                f"sign-in as {user} did not open the main window, twice (still at "
                                "sign-in: a wrong password, or the keys went elsewhere)"
                            ) from error
                        raise
                print(f"main window mapped {time.perf_counter() - start:.2f} s after launch")
                time.sleep(2.0)  # let the lots table and its first flag badges paint
                if app.poll() is not None:
                    raise SmokeFailure(f"the program exited (code {app.returncode}) after showing its window")
                errors = visible_windows(x.display, ERROR_BOXES)
                if errors:
                    raise SmokeFailure(f"an error box is open over the main window: {errors}")
                shot = screenshot(x.display, main)
                path = out / "bundle-main-window.png"
                shot.save_png(path)
                colours = shot.colours()
                commonest = colours.most_common(1)[0][1] / (shot.width * shot.height)
                print(
                    f"screenshot {path}: {shot.width}x{shot.height}, {len(colours)} distinct colours, "
                    f"commonest colour {commonest:.0%} of the pixels"
                )
                if shot.width < 400 or shot.height < 300:
                    raise SmokeFailure(f"the main window is only {shot.width}x{shot.height}")
                if len(colours) < 32 or commonest > 0.95:
                    raise SmokeFailure(
                        f"the main window looks blank ({len(colours)} colours, {commonest:.0%} one colour)"
                    )
                # The dashboard (View > Dashboard, Ctrl+1): its charts are QtCharts, which the bundle must carry.
                type_into(x.display, main, "<ctrl+1>")
                time.sleep(2.0)
                dashboard = screenshot(x.display, main)
                dashboard.save_png(out / "bundle-dashboard.png")
                reds = zip(shot.rgb[::3], dashboard.rgb[::3], strict=True)
                changed = sum(a != b for a, b in reds) / (shot.width * shot.height)
                print(
                    f"screenshot {out / 'bundle-dashboard.png'}: {len(dashboard.colours())} distinct colours, "
                    f"{changed:.0%} of the pixels differ from the lots page"
                )
                if changed < 0.05 or app.poll() is not None:
                    raise SmokeFailure("Ctrl+1 did not show the dashboard (the window barely changed or closed)")
            except (XError, SmokeFailure):
                with contextlib.suppress(XError, OSError, subprocess.SubprocessError):
                    screenshot(x.display).save_png(out / "bundle-failure.png")
                raise
        finally:
            stop(app)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--program", default="/usr/bin/registry-app")
    parser.add_argument("--database", required=True, help="SQLAlchemy URL of a demo registry")
    parser.add_argument("--user", default="pharmacist")
    parser.add_argument("--password", default="pharmacist-demo")
    parser.add_argument("--out", type=Path, default=Path("artifacts/screenshots"))
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each window")
    args = parser.parse_args()
    try:
        run(args.program, args.database, args.user, args.password, args.out, args.timeout)
    except (XError, SmokeFailure) as error:
        log = args.out / "bundle-program.log"
        tail = log.read_text(errors="replace").strip().splitlines()[-15:] if log.exists() else []
        print(
            f"FAILED: {error}" + ("\nthe program's output (last lines):\n  " + "\n  ".join(tail) if tail else ""),
            file=sys.stderr,
        )
        return 1
    print("the installed program signed in and showed its main window")
    return 0


if __name__ == "__main__":
    sys.exit(main())
