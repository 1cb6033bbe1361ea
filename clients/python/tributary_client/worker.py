"""The worker loop: register, pull, train, push, over the coordinator's gRPC protocol."""

import dataclasses
import logging
import os
import platform
import random
import socket
import threading
import time
import uuid

import grpc

from . import weights as _weights
from ._chunks import CHUNK_BYTES, ModelAssembler, split
from ._protocol import pb, pb_grpc
from .errors import IntegrityError, TributaryError

_log = logging.getLogger("tributary_client")

#: Statuses that refuse an update for good: it is dropped and the worker trains afresh.
_REFUSED = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION)
#: Statuses that no retry can fix: the token or the client's certificate.
_FATAL = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
#: RESOURCE_EXHAUSTED is retried with backoff (the coordinator may be short of memory for a moment),
#: but the coordinator also answers it for an update over its size limit, which no retry fixes: after
#: this many attempts of one update it is dropped like a refusal.
_EXHAUSTED_ATTEMPTS = 4
_MAX_MESSAGE_BYTES = 64 << 20
_MAX_CHUNK_BYTES = 3 << 20


@dataclasses.dataclass
class Summary:
    """What :meth:`Worker.run` did."""

    acknowledged: int = 0
    #: Acknowledgments of an id the coordinator had already taken in (a re-send after a lost ack).
    duplicates: int = 0
    refused: int = 0
    retries: int = 0
    #: Ids of the acknowledged updates, in order; each is in the coordinator's log exactly once.
    update_ids: list = dataclasses.field(default_factory=list)
    #: The newest model version this worker saw.
    version: int = -1


@dataclasses.dataclass
class _Pending:
    """An update trained and encoded, not yet acknowledged; re-sent as it is, under the same id."""

    update_id: str
    base_version: int
    examples: int
    local_steps: int
    metrics: dict
    delta_bytes: int
    chunks: list
    exhausted: int = 0


class _Backoff:
    """The n-th wait is uniform in [½, 1] × min(max, initial × 2ⁿ), so that workers that lost the
    coordinator together do not come back in lockstep."""

    def __init__(self, initial, maximum, rng):
        self.initial, self.maximum, self.rng, self.attempts = initial, maximum, rng, 0

    def next(self):
        cap = min(self.maximum, self.initial * 2 ** min(self.attempts, 30))
        self.attempts += 1
        return self.rng.uniform(cap / 2, cap)

    def reset(self):
        self.attempts = 0


class Worker:
    """A worker that trains a PyTorch module (or anything behind two callbacks) for a coordinator.

    Either pass ``model``, a ``torch.nn.Module`` whose state_dict holds the coordinator's tensors
    (``names`` maps a coordinator name to a state_dict key where they differ; ``strict`` is described in
    :class:`~tributary_client.weights.ModuleWeights`), or ``get_weights()`` returning a dict of name to
    array and ``set_weights(dict)``, like a Flower NumPyClient; ``model`` is then only handed to the
    training function.

    Call order: construct, :meth:`run` (more than once is fine), :meth:`close` (or use ``with``).
    """

    def __init__(self, address, token, model=None, *, get_weights=None, set_weights=None, names=None,
                 strict=True, name=None, labels=None, tls=False, tls_root_ca=None, tls_client_cert=None,
                 tls_client_key=None, chunk_bytes=CHUNK_BYTES, initial_backoff=0.1, max_backoff=10.0,
                 give_up_after=None, call_timeout=10.0, stream_timeout=600.0, ack_log=None, seed=None,
                 codec="safetensors"):
        if not isinstance(address, str) or ":" not in address:
            raise ValueError(f"address {address!r}: expected HOST:PORT")
        if not token or not isinstance(token, str):
            raise ValueError("token: must be a non-empty string")
        if (get_weights is None) != (set_weights is None):
            raise ValueError("get_weights and set_weights: pass both or neither")
        if get_weights is None:
            if not hasattr(model, "state_dict"):
                raise ValueError(f"model {type(model).__name__}: not a torch.nn.Module; pass one, "
                                 "or get_weights and set_weights")
            adapter = _weights.ModuleWeights(model, names, strict)
            self._get, self._set = adapter.get, adapter.set
        else:
            self._get = lambda wanted: {n: w for n, w in get_weights().items()}
            self._set = set_weights
        if not 0 < chunk_bytes <= _MAX_CHUNK_BYTES:
            raise ValueError(f"chunk_bytes {chunk_bytes}: must be in (0, {_MAX_CHUNK_BYTES}]")
        if not 0 < initial_backoff <= max_backoff:
            raise ValueError(f"backoff: needs 0 < initial_backoff <= max_backoff, got {initial_backoff} and {max_backoff}")
        if codec not in _weights.CODECS:
            raise ValueError(f"codec {codec!r}: expected one of {', '.join(_weights.CODECS)}")
        if give_up_after is not None and give_up_after <= 0:
            raise ValueError(f"give_up_after {give_up_after}: must be > 0 seconds, or None to retry forever")
        self.model = model
        self.address = address
        self.name = name or f"python-{socket.gethostname()}-{os.getpid()}"
        self.codec = codec
        self._labels = {"client": "tributary-python", "python": platform.python_version(), **(labels or {})}
        self._metadata = (("authorization", "Bearer " + token),)
        self._chunk_bytes = chunk_bytes
        self._backoff = _Backoff(initial_backoff, max_backoff, random.Random(seed))
        self._give_up_after = give_up_after
        self._call_timeout = call_timeout
        self._stream_timeout = stream_timeout
        self._ack_log = open(ack_log, "a", encoding="utf-8") if ack_log else None
        self._channel = _channel(address, tls or tls_root_ca is not None, tls_root_ca, tls_client_cert,
                                 tls_client_key, max_backoff)
        self._stub = pb_grpc.CoordinatorStub(self._channel)
        self._register_lock = threading.Lock()
        self._worker_id = None
        self._reregister = True
        self._lease = 10.0
        self._latest = -1
        self._wait_for_new = False
        self._held_version = -1
        self._held = None
        self._pending = None
        self._last_pushed_base = -1
        self._steps_per_second = 0.0

    # -- the loop ---------------------------------------------------------------------------------

    def run(self, train_fn, updates=0):
        """Trains and pushes until ``updates`` updates are acknowledged (forever when 0).

        ``train_fn(model)`` trains the model in place, the pulled weights already set, and returns
        ``(examples, metrics)`` or ``(examples, metrics, local_steps)``: the number of training
        examples behind the update (its weight in the merge) and a dict of name to float.
        """
        if updates < 0:
            raise ValueError(f"updates {updates}: must be >= 0 (0 runs forever)")
        summary = Summary()
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat_loop, args=(stop,), name="tributary-heartbeat", daemon=True)
        beat.start()
        last_success = time.monotonic()
        try:
            while updates == 0 or summary.acknowledged < updates:
                try:
                    if self._reregister:
                        self._register()
                    if self._pending is None and not self._prepare(train_fn):
                        continue
                    ack = self._push(self._pending)
                    self._acknowledged(ack, summary)
                    self._backoff.reset()
                    last_success = time.monotonic()
                except grpc.RpcError as e:
                    code, details = e.code(), e.details()
                    if code in _FATAL:
                        raise TributaryError(f"coordinator {self.address}: {code.name}: {details}") from None
                    if self._pending is not None and (code in _REFUSED or (code == grpc.StatusCode.RESOURCE_EXHAUSTED
                                                                           and self._pending.exhausted + 1 >= _EXHAUSTED_ATTEMPTS)):
                        _log.warning("update %s refused: %s: %s", self._pending.update_id, code.name, details)
                        self._pending = None
                        summary.refused += 1
                        continue
                    if code in _REFUSED:
                        raise TributaryError(f"coordinator {self.address} refused {self.name}: {code.name}: {details}") from None
                    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and self._pending is not None:
                        self._pending.exhausted += 1
                    self._retry(f"{code.name}: {details}", summary, last_success)
                except IntegrityError as e:
                    self._retry(f"pull failed its checks: {e}", summary, last_success)
        finally:
            stop.set()
            beat.join()
        summary.version = self._latest
        return summary

    def _retry(self, why, summary, last_success):
        waited = time.monotonic() - last_success
        if self._give_up_after is not None and waited > self._give_up_after:
            raise TributaryError(f"coordinator {self.address}: no progress for {waited:.0f} s, giving up (last: {why})")
        summary.retries += 1
        wait = self._backoff.next()
        if self._backoff.attempts == 1 or self._backoff.attempts % 10 == 0:
            _log.warning("coordinator %s unavailable (%s); retrying in %d ms", self.address, why, wait * 1000)
        self._reregister = True
        time.sleep(wait)

    def _prepare(self, train_fn):
        """Pulls, trains and encodes the next update; False when it must wait for a newer version first."""
        if self._wait_for_new and 0 <= self._last_pushed_base and self._latest <= self._last_pushed_base:
            time.sleep(max(0.02, min(0.5, self._lease / 10)))
            reply = self._stub.Heartbeat(pb.HeartbeatRequest(worker_id=self._worker_id), metadata=self._metadata,
                                         timeout=self._call_timeout)
            self._latest = max(self._latest, reply.version)
            return False
        self._pull()
        if self._wait_for_new and self._held_version <= self._last_pushed_base:
            time.sleep(0.02)
            return False
        base = self._held
        # A copy each time: the previous round trained the module away from it, or a callback kept it.
        self._set({n: w.copy() for n, w in base.items()})
        started = time.monotonic()
        examples, metrics, steps = _result(train_fn(self.model))
        if steps > 0:
            self._steps_per_second = steps / max(1e-9, time.monotonic() - started)
        trained = self._get(list(base))
        data = _weights.encode_coded(_weights.delta(trained, base), self.codec)
        self._pending = _Pending(str(uuid.uuid4()), self._held_version, examples, steps, metrics, len(data),
                                 list(split(data, self._chunk_bytes)))
        return True

    def _acknowledged(self, ack, summary):
        p = self._pending
        if self._ack_log is not None:
            self._ack_log.write(p.update_id + "\n")
            self._ack_log.flush()
            os.fsync(self._ack_log.fileno())
        summary.acknowledged += 1
        summary.duplicates += 1 if ack.duplicate else 0
        summary.update_ids.append(p.update_id)
        self._latest = max(self._latest, ack.version)
        self._last_pushed_base = p.base_version
        self._pending = None
        _log.info("update %s acknowledged%s: base %d, version %d, staleness %d, %d examples, %d bytes%s",
                  p.update_id, " (duplicate)" if ack.duplicate else "", p.base_version, ack.version, ack.staleness,
                  p.examples, p.delta_bytes, "".join(f", {k} {v:.4g}" for k, v in sorted(p.metrics.items())))

    # -- the calls --------------------------------------------------------------------------------

    def _register(self):
        with self._register_lock:
            caps = pb.Capabilities(device_kind=_device_kind(self.model), cores=os.cpu_count() or 0,
                                   memory_bytes=_memory_bytes(), steps_per_second=self._steps_per_second,
                                   codecs=sorted({"safetensors", self.codec}), labels=self._labels)
            r = self._stub.Register(pb.RegisterRequest(name=self.name, capabilities=caps), metadata=self._metadata,
                                    timeout=self._call_timeout)
            self._worker_id = r.worker_id
            self._lease = max(0.05, r.lease_millis / 1000)
            self._latest = max(self._latest, r.version)
            self._wait_for_new = r.wait_for_new_version
            self._reregister = False
            _log.debug("registered as %s: version %d, strategy %s, lease %d ms", r.worker_id, r.version, r.strategy,
                       r.lease_millis)

    def _pull(self):
        parts = self._stub.PullModel(pb.PullRequest(worker_id=self._worker_id, known_version=self._held_version),
                                     metadata=self._metadata, timeout=self._stream_timeout)
        try:
            first = next(parts, None)
            if first is None or not first.HasField("header"):
                raise IntegrityError("the model stream did not start with a header")
            h = first.header
            if h.unchanged:
                for _ in parts:
                    pass
                if self._held is None or h.version != self._held_version:
                    raise IntegrityError(f"model version {h.version}: said unchanged, but version {self._held_version} is held")
                return
            assembler = ModelAssembler(h.version, h.sha256, h.total_bytes)
            for part in parts:
                if not part.HasField("chunk"):
                    raise IntegrityError(f"model version {h.version}: a second header")
                assembler.add(part.chunk.offset, part.chunk.data, part.chunk.crc32c)
            self._held = _weights.decode(assembler.finish())
            self._held_version = h.version
            self._latest = max(self._latest, h.version)
        except BaseException:
            parts.cancel()
            raise

    def _push(self, p):
        header = pb.UpdateHeader(update_id=p.update_id, worker_id=self._worker_id or "", base_version=p.base_version,
                                 examples=p.examples, local_steps=p.local_steps, metrics=p.metrics,
                                 delta_bytes=p.delta_bytes, codec=self.codec)

        def parts():
            yield pb.UpdatePart(header=header)
            for offset, data, crc in p.chunks:
                yield pb.UpdatePart(chunk=pb.Chunk(offset=offset, data=data, crc32c=crc))

        return self._stub.PushUpdate(parts(), metadata=self._metadata, timeout=self._stream_timeout)

    def _heartbeat_loop(self, stop):
        last = time.monotonic()
        # Wakes often enough to follow a lease that a (re-)registration shortened.
        while not stop.wait(min(0.25, max(0.05, self._lease / 3))):
            if self._worker_id is None or self._reregister or time.monotonic() - last < self._lease / 3:
                continue
            last = time.monotonic()
            try:
                r = self._stub.Heartbeat(pb.HeartbeatRequest(worker_id=self._worker_id), metadata=self._metadata,
                                         timeout=self._call_timeout)
                self._latest = max(self._latest, r.version)
                self._lease = max(0.05, r.lease_millis / 1000)
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.NOT_FOUND:
                    # The coordinator forgot us (restart, lapsed lease): join again without waiting for
                    # the training in progress to end.
                    try:
                        self._register()
                    except grpc.RpcError:
                        self._reregister = True
            except Exception:  # noqa: BLE001 - the channel closed under us; the main loop decides
                pass

    def close(self):
        """Closes the channel and the ack log; an update not yet acknowledged is dropped."""
        self._channel.close()
        if self._ack_log is not None:
            self._ack_log.close()
            self._ack_log = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _result(r):
    if not isinstance(r, tuple) or len(r) not in (2, 3):
        raise TypeError(f"train_fn returned {type(r).__name__}: expected (examples, metrics) or "
                        "(examples, metrics, local_steps)")
    examples, metrics, steps = r if len(r) == 3 else (*r, 0)
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 0:
        raise ValueError(f"train_fn: examples {examples!r}: must be an int >= 0")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"train_fn: local_steps {steps!r}: must be an int >= 0")
    metrics = dict(metrics or {})
    for k, v in metrics.items():
        if not isinstance(k, str):
            raise ValueError(f"train_fn: metric name {k!r}: must be a str")
        metrics[k] = float(v)
    return examples, metrics, steps


def _channel(address, tls, root_ca, client_cert, client_key, max_backoff):
    options = [("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
               ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
               # gRPC's own reconnect backoff reaches two minutes; ours governs instead.
               ("grpc.initial_reconnect_backoff_ms", 100),
               ("grpc.min_reconnect_backoff_ms", 100),
               ("grpc.max_reconnect_backoff_ms", max(100, int(max_backoff * 1000)))]
    if not tls:
        if client_cert or client_key:
            raise ValueError("tls_client_cert and tls_client_key need TLS (tls=True or tls_root_ca)")
        return grpc.insecure_channel(address, options=options)
    if (client_cert is None) != (client_key is None):
        raise ValueError("tls_client_cert and tls_client_key: pass both or neither")

    def read(path):
        return None if path is None else open(path, "rb").read()

    creds = grpc.ssl_channel_credentials(root_certificates=read(root_ca), private_key=read(client_key),
                                         certificate_chain=read(client_cert))
    return grpc.secure_channel(address, creds, options=options)


def _device_kind(model):
    try:
        return next(model.parameters()).device.type
    except Exception:  # noqa: BLE001 - not a module, or one without parameters
        return "cpu"


def _memory_bytes():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0
