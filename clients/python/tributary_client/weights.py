"""Weights as the client handles them: a dict of tensor name to float32 numpy array, in and out of
safetensors bytes, the delta between two of them, and the mapping onto a PyTorch module's state_dict."""

import struct

import numpy as np
from safetensors.numpy import load as _load, save as _save

from ._crc32c import crc32c
from .errors import ModelMismatchError

#: Codecs this client can push: the plain safetensors image, or the coordinator's f16 / bf16 codec messages.
CODECS = ("safetensors", "f16", "bf16")
_F16_MAX = 65504.0

_DTYPE_NAMES = {np.dtype(np.float16): "F16", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64",
                np.dtype(np.int32): "I32", np.dtype(np.int8): "I8", np.dtype(np.uint8): "U8", np.dtype(np.bool_): "BOOL"}


def _shape(s):
    return "[" + ",".join(str(d) for d in s) + "]"


def _file_order(data):
    """Tensor names in the order of their data in a safetensors image: the model's own order, which the
    coordinator's codec messages follow."""
    import json

    (n,) = struct.unpack_from("<Q", bytes(data[:8]))
    header = json.loads(bytes(data[8:8 + n]))
    return [k for k, _ in sorted(((k, v["data_offsets"][0]) for k, v in header.items() if k != "__metadata__"),
                                 key=lambda kv: kv[1])]


def decode(data):
    """The tensors of a safetensors image; every one must be F32 (the only dtype this client trains)."""
    try:
        tensors = _load(bytes(data))
    except Exception as e:  # safetensors raises its own error types
        raise ModelMismatchError(f"model: not a safetensors image: {e}") from e
    tensors = {name: tensors[name] for name in _file_order(data) if name in tensors}
    for name, t in tensors.items():
        if t.dtype != np.float32:
            raise ModelMismatchError(f"tensor {name}: dtype {_DTYPE_NAMES.get(t.dtype, t.dtype)} != F32 "
                                     "(this client handles F32 models only)")
    return tensors


def encode(tensors):
    """Safetensors bytes of ``tensors`` (name to array), each as contiguous float32."""
    return _save({name: np.ascontiguousarray(t, dtype=np.float32) for name, t in tensors.items()})


def encode_coded(tensors, codec):
    """``tensors`` (name to float32 array) as the coordinator decodes a push under ``codec``.

    ``safetensors`` is :func:`encode`. ``f16`` and ``bf16`` write the codec container the coordinator's
    codec module reads (all integers little-endian): magic ``TRBC``, format version 1, the spec, the tensor
    count, per tensor its name, dtype ``F32`` (what it decodes to), shape and payload length, then the
    payloads (each value rounded to nearest even; f16 saturates at ±65504 instead of overflowing), and the
    CRC32C of everything before it. Non-finite values are refused here, as the coordinator would.
    """
    if codec == "safetensors":
        return encode(tensors)
    if codec not in CODECS:
        raise ValueError(f"codec {codec!r}: this client pushes {', '.join(CODECS)}")
    spec = codec.encode("ascii")
    header = bytearray(b"TRBC") + bytes([1, len(spec)]) + spec + struct.pack("<I", len(tensors))
    payloads = []
    for name in tensors:
        t = np.ascontiguousarray(tensors[name], dtype=np.float32)
        if not np.all(np.isfinite(t)):
            raise ModelMismatchError(f"tensor {name}: holds a non-finite value; the coordinator refuses it")
        if codec == "f16":
            payload = np.clip(t, -_F16_MAX, _F16_MAX).astype("<f2").tobytes()
        else:
            bits = t.view(np.uint32).astype(np.uint64)
            rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
            payload = rounded.astype("<u2").tobytes()
        n = name.encode("utf-8")
        header += struct.pack("<H", len(n)) + n + bytes([3]) + b"F32" + bytes([t.ndim])
        header += b"".join(struct.pack("<Q", d) for d in t.shape) + struct.pack("<Q", len(payload))
        payloads.append(payload)
    body = bytes(header) + b"".join(payloads)
    return body + struct.pack("<I", crc32c(body))


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
