"""Generates the gRPC stubs from the coordinator's .proto into the built package (see _codegen.py)."""

import importlib.util
import pathlib

from setuptools import setup
from setuptools.command.build_py import build_py

_HERE = pathlib.Path(__file__).resolve().parent


def _codegen():
    spec = importlib.util.spec_from_file_location("_codegen", _HERE / "tributary_client" / "_codegen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildWithStubs(build_py):
    def run(self):
        codegen = _codegen()
        codegen.generate(_HERE, codegen.find_proto())
        super().run()


setup(cmdclass={"build_py": BuildWithStubs})
