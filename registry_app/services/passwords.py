"""Password hashing with scrypt (memory-hard, salted) and the password policy.

Each hash stores its own parameters, so a hash made with older (weaker) parameters still verifies and is
replaced at the next successful sign-in (`needs_rehash`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class ScryptCost:
    n: int
    r: int
    p: int

    @property
    def maxmem(self) -> int:
        # scrypt needs 128 * r * n bytes (plus a little): allow twice that, as OpenSSL's default of 32 MiB is
        # below what N=2**17 needs.
        return 2 * 128 * self.r * self.n + 1024 * 1024


# OWASP Password Storage Cheat Sheet (scrypt): N=2**17, r=8, p=1 — 128 MiB and about half a second per hash
# here. Slow for an attacker with a stolen database; once per sign-in is acceptable for a person.
OWASP_COST = ScryptCost(n=2**17, r=8, p=1)

_cost = OWASP_COST

MIN_PASSWORD_LENGTH = 12


def current_cost() -> ScryptCost:
    return _cost


def lower_cost_for_tests(n: int = 2**10) -> None:
    """TEST-ONLY: make new hashes cheap so a test suite that creates and signs in thousands of users stays fast.

    Called explicitly by tests/conftest.py and nowhere in the application: the application always hashes at
    OWASP_COST. Hashes made this cheap are weaker than the policy and are rehashed (see `needs_rehash`) by any
    process running at the real cost."""
    global _cost
    _cost = ScryptCost(n=n, r=OWASP_COST.r, p=OWASP_COST.p)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, cost: ScryptCost | None = None) -> str:
    cost = cost or _cost
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=cost.n, r=cost.r, p=cost.p, maxmem=cost.maxmem)
    return f"scrypt${cost.n}${cost.r}${cost.p}${_b64(salt)}${_b64(digest)}"


def _parse(stored: str) -> tuple[ScryptCost, bytes, bytes] | None:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return None
        return ScryptCost(int(n), int(r), int(p)), base64.b64decode(salt), base64.b64decode(digest)
    except (ValueError, TypeError):
        return None


def verify_password(password: str, stored: str) -> bool:
    parsed = _parse(stored)
    if parsed is None:
        return False
    cost, salt, expected = parsed
    try:
        actual = hashlib.scrypt(
            password.encode(), salt=salt, n=cost.n, r=cost.r, p=cost.p, maxmem=cost.maxmem, dklen=len(expected)
        )
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with other parameters than the current ones (e.g. before N=2**17)."""
    parsed = _parse(stored)
    return parsed is None or parsed[0] != _cost


def dummy_hash() -> str:
    """Checked against when the user does not exist, so a wrong name costs as long as a wrong password. Made at
    the current cost (and again if the cost changes), lazily: an import should not spend half a second."""
    return _dummy_hash_for(_cost)


@cache
def _dummy_hash_for(cost: ScryptCost) -> str:
    return hash_password(secrets.token_hex(8), cost)


@cache
def common_passwords() -> frozenset[str]:
    """The common-password list shipped with the package (one a line, lower case, # comments)."""
    text = resources.files(__package__).joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def password_problem(password: str) -> str | None:
    """Why this password is refused, or None. Length and a list of the passwords attackers try first, as NIST
    SP 800-63B asks, rather than composition rules (which lead to `Password1!`)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"use at least {MIN_PASSWORD_LENGTH} characters"
    if password.lower() in common_passwords():
        return "this password is on the list of common passwords attackers try first: choose another"
    return None
