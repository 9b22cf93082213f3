"""A faster way through mutmut's mutants when CPU is scarce (tests/rules/MUTANTS.md): a pytest plugin.

Each collected test runs once unmutated, then once per still-living mutant that reaches it (mutmut-stats.json
of a `mutmut run`), in one pytest process: no process or template registry per mutant, and a mutant leaves
as soon as a test kills it, so the killing tests are best listed first. From ./mutants after `mutmut run`:

    MM_MUTANTS=names.txt MM_OUT=out.json PYTHONPATH=.:../tests/rules python3 -m pytest -p mutant_matrix \
        tests/rules/test_lot_rules.py tests/rules/test_no_leaks.py ...

Never loaded by the ordinary test run (it is a plugin, named with -p; nothing imports it).
"""

import json
import os
from pathlib import Path

import pytest
from _pytest.runner import runtestprotocol

NAMES = [line.strip() for line in Path(os.environ["MM_MUTANTS"]).read_text().splitlines() if line.strip()]
STATS = json.loads(Path(os.environ.get("MM_STATS", "mutmut-stats.json")).read_text())
REACH = {k: set(v) for k, v in STATS["tests_by_mangled_function_name"].items()}
OUT = os.environ["MM_OUT"]
alive = {n: True for n in NAMES}
result: dict = {"killed": {}, "tests_run": {}, "broken_tests": []}


def function_of(name):
    return name.rsplit("__mutmut_", 1)[0].replace(".x_", ".x_", 1)


KNOWN = set().union(*REACH.values())


def reaches(name, nodeid):
    # A test written after the stats run may reach anything.
    return nodeid not in KNOWN or nodeid in REACH.get(function_of(name), set())


def dump():
    result["survived"] = [n for n, a in alive.items() if a]
    Path(OUT).write_text(json.dumps(result, indent=1))


class _Sibling:
    """Stands for a next test in the same module: function-scoped fixtures are torn down, the rest kept."""

    def __init__(self, item):
        self._chain = item.listchain()[:-1]

    def listchain(self):
        return self._chain


def _failed(reports):
    return any(r.failed for r in reports)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    os.environ["MUTANT_UNDER_TEST"] = ""
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    base = runtestprotocol(item, nextitem=_Sibling(item), log=False)
    for r in base:
        item.ihook.pytest_runtest_logreport(report=r)
    if _failed(base):
        result["broken_tests"].append(item.nodeid)
    else:
        for name in [n for n, a in alive.items() if a and reaches(n, item.nodeid)]:
            os.environ["MUTANT_UNDER_TEST"] = name
            reports = runtestprotocol(item, nextitem=_Sibling(item), log=False)
            result["tests_run"][name] = result["tests_run"].get(name, 0) + 1
            if _failed(reports):
                alive[name] = False
                result["killed"][name] = item.nodeid
                if os.environ.get("MM_DEBUG"):
                    result.setdefault("why", {})[name] = [str(r.longrepr)[-1500:] for r in reports if r.failed]
        os.environ["MUTANT_UNDER_TEST"] = ""
    item.session._setupstate.teardown_exact(nextitem)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    dump()
    return True


def pytest_sessionfinish(session):
    dump()
