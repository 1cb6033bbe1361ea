import numpy as np
import pytest
from safetensors.numpy import save

from tributary_client import ModelMismatchError
from tributary_client import weights


def model():
    return {"linear.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
            "linear.bias": np.array([0.5, -0.5], dtype=np.float32)}


def test_delta_is_trained_minus_pulled_in_float32():
    pulled = model()
    trained = {"linear.weight": pulled["linear.weight"] + 0.25, "linear.bias": np.array([1.0, -2.0], dtype=np.float64)}
    d = weights.delta(trained, pulled)
    assert set(d) == {"linear.weight", "linear.bias"}
    assert all(t.dtype == np.float32 for t in d.values())
    np.testing.assert_array_equal(d["linear.weight"], np.full((2, 3), 0.25, dtype=np.float32))
    np.testing.assert_array_equal(d["linear.bias"], np.array([0.5, -1.5], dtype=np.float32))


def test_delta_of_unchanged_weights_is_zero():
    d = weights.delta(model(), model())
    assert all(not t.any() for t in d.values())


def test_delta_names_a_missing_extra_or_reshaped_tensor():
    pulled = model()
    with pytest.raises(ModelMismatchError, match="tensor linear.bias: missing from the trained weights"):
        weights.delta({"linear.weight": pulled["linear.weight"]}, pulled)
    with pytest.raises(ModelMismatchError, match="tensor extra: not in the coordinator's model"):
        weights.delta({**pulled, "extra": np.zeros(1, np.float32)}, pulled)
    with pytest.raises(ModelMismatchError, match=r"tensor linear.weight: shape \[3,2\] after training != \[2,3\] pulled"):
        weights.delta({**pulled, "linear.weight": np.zeros((3, 2), np.float32)}, pulled)


def test_encode_then_decode_gives_the_same_tensors():
    back = weights.decode(weights.encode(model()))
    for name, t in model().items():
        np.testing.assert_array_equal(back[name], t)
        assert back[name].dtype == np.float32


def test_decode_refuses_a_model_that_is_not_f32_naming_the_tensor():
    data = save({"w": np.zeros(2, np.float16)})
    with pytest.raises(ModelMismatchError, match="tensor w: dtype F16 != F32"):
        weights.decode(data)


def test_decode_refuses_bytes_that_are_not_safetensors():
    with pytest.raises(ModelMismatchError, match="not a safetensors image"):
        weights.decode(b"\x01\x00\x00\x00\x00\x00\x00\x00{")


torch = pytest.importorskip("torch")


def linear():
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2)


def test_module_weights_set_then_get_round_trips_through_a_name_map():
    m = linear()
    w2 = weights.ModuleWeights(m, names={"linear.weight": "weight", "linear.bias": "bias"})
    w2.set(model())
    np.testing.assert_array_equal(m.weight.detach().numpy(), model()["linear.weight"])
    got = w2.get(["linear.weight", "linear.bias"])
    np.testing.assert_array_equal(got["linear.bias"], model()["linear.bias"])
    got["linear.bias"][0] = 99  # a copy: the module is not touched
    assert m.bias[0].item() == 0.5


def test_module_weights_names_a_tensor_the_module_lacks():
    with pytest.raises(ModelMismatchError, match="tensor linear.weight: not in the module's state_dict; "
                                                 "the module has bias, weight"):
        weights.ModuleWeights(linear()).set(model())


def test_module_weights_names_a_shape_mismatch_and_touches_nothing():
    m = linear()
    before = m.weight.detach().clone()
    bad = {"weight": np.zeros((3, 2), np.float32), "bias": np.zeros(2, np.float32)}
    with pytest.raises(ModelMismatchError, match=r"tensor weight: shape \[3,2\] in the coordinator's model != \[2,3\] in the module"):
        weights.ModuleWeights(m).set(bad)
    assert torch.equal(m.weight.detach(), before)


def test_strict_refuses_a_module_tensor_the_coordinator_lacks_unless_told_otherwise():
    m = linear()
    only_weight = {"weight": np.ones((2, 3), np.float32)}
    with pytest.raises(ModelMismatchError, match="tensor bias: in the module but not in the coordinator's model"):
        weights.ModuleWeights(m).set(only_weight)
    weights.ModuleWeights(m, strict=False).set(only_weight)
    assert m.weight.detach().sum().item() == 6


def _read_coded(data):
    """Parses a codec message as the coordinator's codec module does: header, payloads, CRC32C."""
    import struct
    from tributary_client._crc32c import crc32c

    assert data[:4] == b"TRBC" and data[4] == 1
    assert struct.unpack("<I", data[-4:])[0] == crc32c(data[:-4])
    n = data[5]
    spec, at = data[6:6 + n].decode("ascii"), 6 + n
    (count,), at = struct.unpack_from("<I", data, at), at + 4
    entries = []
    for _ in range(count):
        (ln,), at = struct.unpack_from("<H", data, at), at + 2
        name, at = data[at:at + ln].decode("utf-8"), at + ln
        dl = data[at]
        dtype, at = data[at + 1:at + 1 + dl].decode("ascii"), at + 1 + dl
        rank, at = data[at], at + 1
        shape, at = struct.unpack_from("<" + "Q" * rank, data, at), at + 8 * rank
        (size,), at = struct.unpack_from("<Q", data, at), at + 8
        entries.append((name, dtype, shape, size))
    out = {}
    for name, dtype, shape, size in entries:
        assert dtype == "F32"
        out[name] = (shape, data[at:at + size])
        at += size
    assert at == len(data) - 4, "nothing between the payloads and the CRC"
    return spec, out


def test_bf16_message_rounds_to_nearest_even_and_checks_out():
    # 1 + 2^-8 is halfway between two bf16 values: ties go to the even one (1.0); 1 + 3·2^-8 rounds up.
    x = np.array([[1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8], [-2.5, 3.0e38]], dtype=np.float32)
    spec, out = _read_coded(weights.encode_coded({"w": x, "b": np.zeros(3, np.float32)}, "bf16"))
    assert spec == "bf16" and list(out) == ["w", "b"], "the tensors' own order"
    shape, payload = out["w"]
    assert shape == (2, 2)
    back = (np.frombuffer(payload, "<u2").astype(np.uint32) << 16).view(np.float32)
    assert back[:3].tolist() == [1.0, 1.0 + 2 ** -6, -2.5]
    assert abs(back[3] - 3.0e38) / 3.0e38 < 2 ** -8


def test_f16_message_saturates_instead_of_overflowing():
    x = np.array([70000.0, -1.0e9, 0.1], dtype=np.float32)
    _, out = _read_coded(weights.encode_coded({"w": x}, "f16"))
    back = np.frombuffer(out["w"][1], "<f2").astype(np.float32)
    assert back[0] == 65504.0 and back[1] == -65504.0
    assert back[2] == np.float16(0.1)


def test_coded_encoding_refuses_non_finite_values_and_unknown_codecs():
    with pytest.raises(ModelMismatchError, match="tensor w"):
        weights.encode_coded({"w": np.array([np.nan], np.float32)}, "bf16")
    with pytest.raises(ValueError, match="int3"):
        weights.encode_coded({"w": np.zeros(1, np.float32)}, "int3")
    assert weights.encode_coded({"w": np.ones(2, np.float32)}, "safetensors") == weights.encode({"w": np.ones(2, np.float32)})


def test_decode_keeps_the_models_order_of_tensors():
    from safetensors.numpy import save as save_np
    data = save_np({"z.weight": np.ones(4, np.float32), "a.bias": np.zeros(2, np.float32)})
    order = weights._file_order(data)
    assert list(weights.decode(data)) == order and sorted(order) == ["a.bias", "z.weight"]
