"""Packaging shim: everything is in setup.cfg, except that the suites folder ``probes/`` and the recipes folder
``train/`` at the repo root ship inside the wheel as the packages ``crome_audit._suites`` and
``crome_audit._recipes`` (find_packages cannot see a mapped folder)."""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["crome_audit", "crome_audit.*"]) + ["crome_audit._suites", "crome_audit._recipes"])
