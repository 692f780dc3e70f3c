"""Packaging shim: everything is in setup.cfg, except that the suites folder ``probes/`` at the repo root
ships inside the wheel as the package ``crome_audit._suites`` (find_packages cannot see a mapped folder)."""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["crome_audit", "crome_audit.*"]) + ["crome_audit._suites"])
