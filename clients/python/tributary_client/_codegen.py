"""Generates the gRPC stubs from the coordinator's .proto with grpcio-tools.

The stubs are made where they are used, never committed: generated protobuf code is tied to the
protobuf runtime it was made for, and made again here from the one .proto the Java side compiles,
it cannot drift from the protocol. ``pip install`` runs this (see setup.py); a checkout used straight
from source (``PYTHONPATH=clients/python``) runs it on first import, and again whenever the .proto
changes (a stamp holds the SHA-256 of the .proto the stubs came from).

Kept free of the package's other imports: setup.py loads this file on its own.
"""

import hashlib
import os
import pathlib
import shutil
import tempfile

PROTO_NAME = "coordinator.proto"
#: Where the stubs go inside the package; the .proto is compiled as if it lay here, so that the
#: generated modules import each other as ``tributary_client._generated.coordinator_pb2``.
PACKAGE_PATH = ("tributary_client", "_generated")
STAMP = "PROTO_SHA256"


def find_proto():
    """The .proto: $TRIBUTARY_PROTO, a copy shipped in the package, or the checkout's protocol module."""
    env = os.environ.get("TRIBUTARY_PROTO")
    if env:
        return pathlib.Path(env)
    here = pathlib.Path(__file__).resolve().parent
    shipped = here / "_generated" / PROTO_NAME
    checkout = here.parents[2] / "protocol" / "src" / "main" / "proto" / "tributary" / "v1" / PROTO_NAME
    for p in (checkout, shipped):
        if p.is_file():
            return p
    raise FileNotFoundError(f"{PROTO_NAME} not found (looked at {checkout} and {shipped}; set TRIBUTARY_PROTO)")


def proto_digest(proto):
    return hashlib.sha256(pathlib.Path(proto).read_bytes()).hexdigest()


def up_to_date(out_root, proto):
    stamp = pathlib.Path(out_root).joinpath(*PACKAGE_PATH, STAMP)
    return stamp.is_file() and stamp.read_text().strip() == proto_digest(proto)


def generate(out_root, proto=None):
    """Writes ``tributary_client/_generated/`` (stubs, the .proto, a stamp) under ``out_root``."""
    from grpc_tools import protoc  # only needed to generate

    proto = pathlib.Path(proto or find_proto())
    target = pathlib.Path(out_root).joinpath(*PACKAGE_PATH)
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp, "src").joinpath(*PACKAGE_PATH)
        src.mkdir(parents=True)
        shutil.copyfile(proto, src / PROTO_NAME)
        out = pathlib.Path(tmp, "out")
        out.mkdir()
        include = pathlib.Path(protoc.__file__).parent / "_proto"
        rc = protoc.main(["grpc_tools.protoc", f"-I{tmp}/src", f"-I{include}", f"--python_out={out}",
                          f"--grpc_python_out={out}", "/".join(PACKAGE_PATH + (PROTO_NAME,))])
        if rc != 0:
            raise RuntimeError(f"protoc failed ({rc}) on {proto}")
        made = out.joinpath(*PACKAGE_PATH)
        (made / "__init__.py").write_text('"""gRPC stubs generated from coordinator.proto; not committed."""\n')
        shutil.copyfile(proto, made / PROTO_NAME)
        (made / STAMP).write_text(proto_digest(proto) + "\n")
        # Each file lands whole (rename), so a process importing meanwhile never sees half a module.
        for f in sorted(made.iterdir(), key=lambda p: p.name == STAMP):
            tmp_target = target / (f.name + f".{os.getpid()}.tmp")
            shutil.copyfile(f, tmp_target)
            os.replace(tmp_target, target / f.name)
    return target


if __name__ == "__main__":
    print(generate(pathlib.Path(__file__).resolve().parents[1]))
