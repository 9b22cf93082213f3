"""A private X server (Xvfb) and the few things done to real windows on it: find a mapped window by its title,
type into it (xdotool), and take a screenshot of it (xwd, converted to PNG here with the standard library).

Used by ci_bundle.sh's check of the installed program (smoke_installed.py) and by bench/bench_bundle.py.
Needs the Debian packages xvfb, xdotool and x11-apps (xwd); no Python packages beyond the standard library.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


class XError(RuntimeError):
    pass


class Xvfb:
    """`with Xvfb() as x:` a new X server on a free display (Xvfb -displayfd picks it), stopped on exit."""

    def __init__(self, size: str = "1280x800x24") -> None:
        self.size = size
        self.process: subprocess.Popen[bytes] | None = None
        self.display = ""

    def __enter__(self) -> Xvfb:
        read, write = os.pipe()
        try:
            self.process = subprocess.Popen(
                ["Xvfb", "-displayfd", str(write), "-screen", "0", self.size, "-nolisten", "tcp", "-noreset"],
                pass_fds=(write,),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise XError("Xvfb not found (Debian package xvfb)") from None
        finally:
            os.close(write)
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        if not number.isdigit():
            self.__exit__()
            raise XError("Xvfb did not start")
        self.display = f":{number}"
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for a program on this display: a real xcb window, not Qt's offscreen platform."""
        env = {key: value for key, value in os.environ.items() if key not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
        return {**env, "DISPLAY": self.display, **extra}


def _xdotool(display: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["xdotool", *args],
            env={**os.environ, "DISPLAY": display},
            capture_output=True,
            text=True,
            check=check,
            timeout=30,
        )
    except FileNotFoundError:
        raise XError("xdotool not found (Debian package xdotool)") from None


def stop(process: subprocess.Popen) -> None:  # type: ignore[type-arg]
    """End a program started for a check: politely, then for good if it does not go within 10 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def visible_windows(display: str, title_regex: str) -> list[str]:
    """Ids of the mapped (viewable) windows whose title matches."""
    found = _xdotool(display, "search", "--onlyvisible", "--name", title_regex, check=False)
    return found.stdout.split()


def wait_for_window(
    display: str, title_regex: str, timeout: float, process: subprocess.Popen | None = None, poll: float = 0.02
) -> str:
    """The first mapped window whose title matches, polled every `poll` seconds; XError after `timeout` or if
    `process` ends first."""
    deadline = time.monotonic() + timeout
    while True:
        windows = visible_windows(display, title_regex)
        if windows:
            return windows[0]
        if process is not None and process.poll() is not None:
            raise XError(
                f"the program exited (code {process.returncode}) before a window titled /{title_regex}/ appeared"
            )
        if time.monotonic() > deadline:
            raise XError(f"no window titled /{title_regex}/ within {timeout:g} s")
        time.sleep(poll)


def window_title(display: str, window: str) -> str:
    return _xdotool(display, "getwindowname", window).stdout.strip()


def type_into(display: str, window: str, *steps: str, delay_ms: int = 25) -> None:
    """Give the window the keyboard focus, then type: each step is text, or a key name in angle brackets
    (`"<Tab>"`, `"<Return>"`, `"<ctrl+1>"`). Every key goes through the X server's input queue (XTEST) to the
    focused window, in order; not `key --window`, whose sent events bypass that queue."""
    _xdotool(display, "windowfocus", "--sync", window)
    for step in steps:
        key = re.fullmatch(r"<([\w+]+)>", step)
        # One command per step: xdotool's `type` takes every argument after it as text, so no chaining.
        _xdotool(
            display,
            *(
                ["key", "--clearmodifiers", key.group(1)]
                if key
                else ["type", "--clearmodifiers", "--delay", str(delay_ms), step]
            ),
        )


@dataclass
class Screenshot:
    width: int
    height: int
    rgb: bytes  # width * height * 3 bytes, rows top to bottom

    def colours(self) -> Counter[bytes]:
        pixels = self.rgb
        return Counter(pixels[i : i + 3] for i in range(0, len(pixels), 3))

    def save_png(self, path: Path) -> None:
        row = self.width * 3
        raw = b"".join(b"\x00" + self.rgb[y * row : (y + 1) * row] for y in range(self.height))

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        path.write_bytes(
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6))
            + chunk(b"IEND", b"")
        )


def screenshot(display: str, window: str = "root") -> Screenshot:
    """The window's pixels as the X server has them (xwd), for a 24- or 32-bit TrueColor screen."""
    target = ["-root"] if window == "root" else ["-id", window]
    try:
        dump = subprocess.run(
            ["xwd", "-silent", *target],
            env={**os.environ, "DISPLAY": display},
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
    except FileNotFoundError:
        raise XError("xwd not found (Debian package x11-apps)") from None
    header = struct.unpack(">25I", dump[:100])
    (
        header_size,
        _version,
        pixmap_format,
        _depth,
        width,
        height,
        _xoffset,
        byte_order,
        _unit,
        _bit_order,
        _pad,
        bits_per_pixel,
        bytes_per_line,
        _visual,
        red_mask,
        green_mask,
        blue_mask,
        _bits_rgb,
        _entries,
        ncolours,
        *_rest,
    ) = header
    if pixmap_format != 2 or bits_per_pixel not in (24, 32):
        raise XError(f"unexpected xwd image (format {pixmap_format}, {bits_per_pixel} bits per pixel)")
    step = bits_per_pixel // 8
    data = dump[header_size + 12 * ncolours :]
    rows = b"".join(data[y * bytes_per_line : y * bytes_per_line + width * step] for y in range(height))
    rgb = bytearray(width * height * 3)
    if (byte_order, red_mask, green_mask, blue_mask) == (0, 0xFF0000, 0xFF00, 0xFF):  # B, G, R(, X) bytes
        rgb[0::3], rgb[1::3], rgb[2::3] = rows[2::step], rows[1::step], rows[0::step]
    else:
        endian = "little" if byte_order == 0 else "big"
        shifts = [(mask, (mask & -mask).bit_length() - 1) for mask in (red_mask, green_mask, blue_mask)]
        for i in range(width * height):
            value = int.from_bytes(rows[i * step : (i + 1) * step], endian)
            rgb[i * 3 : i * 3 + 3] = bytes((value & mask) >> shift for mask, shift in shifts)
    return Screenshot(width, height, bytes(rgb))
