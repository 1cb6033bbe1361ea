"""The generated messages and stub, made first if this is a checkout that has none (or stale ones)."""

import pathlib

from . import _codegen

_ROOT = pathlib.Path(__file__).resolve().parents[1]


def _ensure():
    try:
        proto = _codegen.find_proto()
    except FileNotFoundError:
        return  # an installed package: the stubs were made at install time
    if not _codegen.up_to_date(_ROOT, proto):
        _codegen.generate(_ROOT, proto)


_ensure()

from ._generated import coordinator_pb2 as pb  # noqa: E402
from ._generated import coordinator_pb2_grpc as pb_grpc  # noqa: E402

__all__ = ["pb", "pb_grpc"]
