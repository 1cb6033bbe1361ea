"""CRC32C (Castagnoli), the checksum every chunk of the protocol carries.

google-crc32c (hardware-accelerated C) is used when it is installed; otherwise a table-driven pure
Python implementation, correct but slow (a few MB/s), which is enough for small models.
"""

_POLY = 0x82F63B78  # Castagnoli, reflected


def _table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_TABLE = _table()


def crc32c_pure(data, crc=0):
    """CRC32C of ``data`` continuing from ``crc`` (0 to start), in pure Python."""
    c = crc ^ 0xFFFFFFFF
    table = _TABLE
    for b in memoryview(data).cast("B"):
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


try:
    import google_crc32c as _accelerated
except ImportError:  # pragma: no cover - depends on what is installed
    _accelerated = None


def crc32c(data):
    """CRC32C of ``data`` (bytes-like) as an unsigned 32-bit int."""
    if _accelerated is not None:
        return _accelerated.value(bytes(data) if not isinstance(data, bytes) else data)
    return crc32c_pure(data)


IMPLEMENTATION = "google-crc32c" if _accelerated is not None else "pure-python"
