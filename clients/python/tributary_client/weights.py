"""Weights as the client handles them: a dict of tensor name to float32 numpy array, in and out of
safetensors bytes, the delta between two of them, and the mapping onto a PyTorch module's state_dict."""

import numpy as np
from safetensors.numpy import load as _load, save as _save

from .errors import ModelMismatchError

_DTYPE_NAMES = {np.dtype(np.float16): "F16", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64",
                np.dtype(np.int32): "I32", np.dtype(np.int8): "I8", np.dtype(np.uint8): "U8", np.dtype(np.bool_): "BOOL"}


def _shape(s):
    return "[" + ",".join(str(d) for d in s) + "]"


def decode(data):
    """The tensors of a safetensors image; every one must be F32 (the only dtype this client trains)."""
    try:
        tensors = _load(bytes(data))
    except Exception as e:  # safetensors raises its own error types
        raise ModelMismatchError(f"model: not a safetensors image: {e}") from e
    for name, t in tensors.items():
        if t.dtype != np.float32:
            raise ModelMismatchError(f"tensor {name}: dtype {_DTYPE_NAMES.get(t.dtype, t.dtype)} != F32 "
                                     "(this client handles F32 models only)")
    return tensors


def encode(tensors):
    """Safetensors bytes of ``tensors`` (name to array), each as contiguous float32."""
    return _save({name: np.ascontiguousarray(t, dtype=np.float32) for name, t in tensors.items()})


def delta(trained, pulled):
    """``trained − pulled`` for every tensor of ``pulled``, in float32; both must hold the same names and shapes."""
    missing = [n for n in pulled if n not in trained]
    if missing:
        raise ModelMismatchError(f"tensor {missing[0]}: missing from the trained weights")
    extra = [n for n in trained if n not in pulled]
    if extra:
        raise ModelMismatchError(f"tensor {extra[0]}: not in the coordinator's model")
    out = {}
    for name, base in pulled.items():
        t = np.asarray(trained[name])
        if t.shape != base.shape:
            raise ModelMismatchError(f"tensor {name}: shape {_shape(t.shape)} after training != {_shape(base.shape)} pulled")
        out[name] = t.astype(np.float32, copy=False) - base
    return out


class ModuleWeights:
    """Reads and writes a ``torch.nn.Module``'s state_dict as the coordinator's tensors.

    ``names`` maps a coordinator tensor name to the module's state_dict key where they differ. With
    ``strict`` (the default), every floating-point entry of the state_dict must be in the coordinator's
    model, so that nothing the module trains is silently left out; pass ``strict=False`` to keep
    entries the coordinator does not have (they stay local and are never pushed).
    """

    def __init__(self, module, names=None, strict=True):
        self.module = module
        self.names = dict(names or {})
        self.strict = strict

    def _key(self, name):
        return self.names.get(name, name)

    def set(self, weights):
        """Copies every coordinator tensor into the module, after checking that all of them fit."""
        import torch

        state = self.module.state_dict()
        for name, w in weights.items():
            key = self._key(name)
            if key not in state:
                raise ModelMismatchError(f"tensor {name}: not in the module's state_dict"
                                         + (f" (as {key})" if key != name else "")
                                         + f"; the module has {', '.join(sorted(state)) or 'nothing'}")
            t = state[key]
            if tuple(t.shape) != w.shape:
                raise ModelMismatchError(f"tensor {name}: shape {_shape(w.shape)} in the coordinator's model "
                                         f"!= {_shape(t.shape)} in the module")
            if not t.is_floating_point():
                raise ModelMismatchError(f"tensor {name}: the module holds {t.dtype}, expected a floating-point tensor")
        if self.strict:
            covered = {self._key(n) for n in weights}
            extra = [k for k, t in state.items() if k not in covered and t.is_floating_point()]
            if extra:
                raise ModelMismatchError(f"tensor {extra[0]}: in the module but not in the coordinator's model "
                                         "(pass strict=False to keep it local)")
        with torch.no_grad():
            for name, w in weights.items():
                state[self._key(name)].copy_(torch.from_numpy(w))

    def get(self, names):
        """The module's current values of the coordinator tensors ``names``, as float32 arrays on the CPU."""
        import torch

        state = self.module.state_dict()
        out = {}
        for name in names:
            key = self._key(name)
            if key not in state:
                raise ModelMismatchError(f"tensor {name}: not in the module's state_dict")
            out[name] = state[key].detach().to(device="cpu", dtype=torch.float32).numpy().copy()
        return out
