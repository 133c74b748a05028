"""Package layout (everything else is in pyproject.toml).

The repository keeps its top-level layout: ``conf/`` (the config library) installs as the
package ``mlplat_conf`` (Hydra finds it as ``pkg://mlplat_conf``) and ``bot/`` (the Slack
front door) as ``mlplat_bot``, so neither claims a generic top-level name in a user's
environment. The packages are found, not listed, so a new subpackage cannot be left out.
"""

from setuptools import find_namespace_packages, setup

MAPPED = {"mlplat_conf": "conf", "mlplat_bot": "bot"}

packages = find_namespace_packages(include=["mlplat", "mlplat.*", "hydra_plugins", "hydra_plugins.*"])
for name, directory in MAPPED.items():
    packages += [name] + [f"{name}.{sub}" for sub in find_namespace_packages(where=directory)]

setup(packages=packages, package_dir={name: directory for name, directory in MAPPED.items()})
