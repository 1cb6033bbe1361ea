import hashlib
import os

import pytest

from tributary_client import IntegrityError
from tributary_client._chunks import ModelAssembler, split
from tributary_client._crc32c import crc32c


def test_split_covers_the_bytes_in_order_with_each_chunks_crc():
    data = os.urandom(10_000)
    chunks = list(split(data, 4096))
    assert [(o, len(d)) for o, d, _ in chunks] == [(0, 4096), (4096, 4096), (8192, 1808)]
    assert b"".join(d for _, d, _ in chunks) == data
    assert all(c == crc32c(d) for _, d, c in chunks)


def test_split_of_an_exact_multiple_and_of_nothing():
    assert [len(d) for _, d, _ in split(bytes(8), 4)] == [4, 4]
    assert list(split(b"", 4)) == []
    with pytest.raises(ValueError, match="chunk_bytes 0"):
        list(split(b"x", 0))


def assembler(data):
    return ModelAssembler(7, hashlib.sha256(data).digest(), len(data))


def test_assembler_returns_the_bytes_when_every_check_passes():
    data = os.urandom(5000)
    a = assembler(data)
    for offset, piece, crc in split(data, 1024):
        a.add(offset, piece, crc)
    assert a.finish() == data


def test_assembler_refuses_a_chunk_whose_crc_does_not_match():
    a = assembler(b"abcdef")
    with pytest.raises(IntegrityError, match="chunk at offset 0: CRC32C"):
        a.add(0, b"abcdef", crc32c(b"abcdeg"))


def test_assembler_refuses_a_chunk_out_of_order():
    a = assembler(b"abcdef")
    with pytest.raises(IntegrityError, match="chunk at offset 3, expected offset 0"):
        a.add(3, b"def", crc32c(b"def"))


def test_assembler_refuses_a_chunk_past_the_total():
    a = assembler(b"abc")
    with pytest.raises(IntegrityError, match="runs past total_bytes 3"):
        a.add(0, b"abcd", crc32c(b"abcd"))


def test_sha256_mismatch_is_refused_naming_both_digests():
    data = b"the model"
    a = ModelAssembler(3, hashlib.sha256(b"another model").digest(), len(data))
    a.add(0, data, crc32c(data))
    with pytest.raises(IntegrityError, match="model version 3: received 9 of 9 bytes with SHA-256 "
                       + hashlib.sha256(data).hexdigest()):
        a.finish()


def test_a_short_stream_is_refused():
    data = b"abcdef"
    a = assembler(data)
    a.add(0, b"abc", crc32c(b"abc"))
    with pytest.raises(IntegrityError, match="received 3 of 6 bytes"):
        a.finish()


def test_a_header_digest_of_the_wrong_length_is_refused():
    with pytest.raises(IntegrityError, match="SHA-256 of 4 bytes"):
        ModelAssembler(1, b"abcd", 0)
