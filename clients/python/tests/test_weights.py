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
