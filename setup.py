"""Package layout only (the rest is in pyproject.toml).

The migrations and the resources stay in the top-level folders of the source tree (alembic.ini points at
migrations/, designers find resources/ at the top) and ship inside the package, so a wheel or a desktop
bundle finds them with importlib.resources as a checkout does. pyproject.toml cannot combine package
discovery with a folder mapping, hence this file.
"""

from setuptools import find_packages, setup

MAPPED = {
    "registry_app.migrations": "migrations",
    "registry_app.migrations.versions": "migrations/versions",
    "registry_app.resources": "resources",
}

setup(packages=[*find_packages(include=["registry_app", "registry_app.*"]), *MAPPED], package_dir=MAPPED)
