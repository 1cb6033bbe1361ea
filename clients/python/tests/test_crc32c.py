import os

import pytest

from tributary_client import _crc32c
from tributary_client._crc32c import crc32c, crc32c_pure

# The check value of CRC-32C, and the iSCSI test vectors of RFC 3720, appendix B.4.
VECTORS = [
    (b"123456789", 0xE3069283),
    (b"", 0x00000000),
    (bytes(32), 0x8A9136AA),
    (b"\xff" * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
    (bytes(range(31, -1, -1)), 0x113FDB5C),
]


@pytest.mark.parametrize("data,expected", VECTORS)
def test_pure_python_matches_the_standard_vectors(data, expected):
    assert crc32c_pure(data) == expected


@pytest.mark.parametrize("data,expected", VECTORS)
def test_the_implementation_in_use_matches_the_standard_vectors(data, expected):
    assert crc32c(data) == expected


def test_pure_python_continues_from_a_previous_crc():
    data = os.urandom(1000)
    assert crc32c_pure(data[400:], crc32c_pure(data[:400])) == crc32c_pure(data)


def test_accelerated_and_pure_agree_on_random_data():
    if _crc32c.IMPLEMENTATION != "google-crc32c":
        pytest.skip("google-crc32c is not installed: only the pure implementation is in use")
    for n in (1, 7, 64, 4097):
        data = os.urandom(n)
        assert crc32c(data) == crc32c_pure(data)
