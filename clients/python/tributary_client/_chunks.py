"""Cutting a byte stream into CRC'd chunks, and putting a pulled model back together with every check.

Pure functions over (offset, data, crc32c) triples, apart from the gRPC messages, so that they are
tested without a coordinator.
"""

import hashlib

from ._crc32c import crc32c
from .errors import IntegrityError

#: Chunk size of pushed deltas: with its framing, under the 4 MiB a gRPC server takes in one message.
CHUNK_BYTES = 2 << 20


def split(data, chunk_bytes=CHUNK_BYTES):
    """Yields ``(offset, piece, crc32c)`` for consecutive pieces of ``data`` of at most ``chunk_bytes``."""
    if chunk_bytes <= 0:
        raise ValueError(f"chunk_bytes {chunk_bytes}: must be > 0")
    view = memoryview(data)
    for at in range(0, len(view), chunk_bytes):
        piece = bytes(view[at:at + chunk_bytes])
        yield at, piece, crc32c(piece)


class ModelAssembler:
    """Receives a model's chunks in order, checking each one's offset and CRC32C, then the whole.

    Call order: construct with the header's fields, :meth:`add` every chunk, :meth:`finish` once.
    Any failed check raises :class:`IntegrityError` naming the version and what did not match.
    """

    def __init__(self, version, sha256, total_bytes):
        if total_bytes < 0:
            raise IntegrityError(f"model version {version}: total_bytes {total_bytes} < 0")
        if len(sha256) != 32:
            raise IntegrityError(f"model version {version}: header SHA-256 of {len(sha256)} bytes, expected 32")
        self.version = version
        self._expected_sha = bytes(sha256)
        self._total = total_bytes
        self._buffer = bytearray()
        self._sha = hashlib.sha256()

    def add(self, offset, data, crc):
        at = len(self._buffer)
        if offset != at:
            raise IntegrityError(f"model version {self.version}: chunk at offset {offset}, expected offset {at}")
        if at + len(data) > self._total:
            raise IntegrityError(f"model version {self.version}: chunk at offset {offset} of {len(data)} bytes "
                                 f"runs past total_bytes {self._total}")
        actual = crc32c(data)
        if actual != crc:
            raise IntegrityError(f"model version {self.version}: chunk at offset {offset}: CRC32C "
                                 f"{actual:#010x} != {crc:#010x}")
        self._sha.update(data)
        self._buffer += data

    def finish(self):
        """The model's bytes, once every byte arrived and their SHA-256 matches the header's."""
        got = len(self._buffer)
        digest = self._sha.digest()
        if got != self._total or digest != self._expected_sha:
            raise IntegrityError(f"model version {self.version}: received {got} of {self._total} bytes with "
                                 f"SHA-256 {digest.hex()}, expected {self._expected_sha.hex()}")
        return bytes(self._buffer)
