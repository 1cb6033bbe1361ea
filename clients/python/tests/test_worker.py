"""The worker loop against a scripted in-process coordinator: retries, refusals, re-registration."""

import hashlib
import threading
import time
from concurrent import futures

import grpc
import numpy as np
import pytest

from tributary_client import TributaryError, Worker
from tributary_client import weights
from tributary_client._chunks import split
from tributary_client._crc32c import crc32c
from tributary_client._protocol import pb, pb_grpc

TOKEN = "test-token"
OK = None
ACK_LOST = "ack-lost"  # applied and durable, then the connection drops before the ack


class FakeCoordinator(pb_grpc.CoordinatorServicer):
    """Applies deltas to a one-tensor model; ``push_script`` says what each push meets, in turn."""

    def __init__(self, push_script=(), wait_for_new_version=False, heartbeat_not_found=0):
        self.model = {"w": np.zeros(4, np.float32)}
        self.version = 0
        self.push_script = list(push_script)
        self.wait_for_new_version = wait_for_new_version
        self.heartbeat_not_found = heartbeat_not_found
        self.applied = []  # update ids, once each
        self.pushes = []  # (update id, base version) of every push received
        self.registrations = 0
        self.tokens = set()
        self.lock = threading.Lock()

    def _auth(self, context):
        token = dict(context.invocation_metadata()).get("authorization")
        self.tokens.add(token)
        if token != "Bearer " + TOKEN:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad token")

    def Register(self, request, context):
        self._auth(context)
        assert list(request.capabilities.codecs) == ["safetensors"]
        with self.lock:
            self.registrations += 1
            return pb.RegisterReply(worker_id=f"w{self.registrations}", lease_millis=150, version=self.version,
                                    strategy="fedavg" if self.wait_for_new_version else "fedasync",
                                    wait_for_new_version=self.wait_for_new_version)

    def Heartbeat(self, request, context):
        self._auth(context)
        with self.lock:
            if self.heartbeat_not_found > 0 or request.worker_id != f"w{self.registrations}":
                self.heartbeat_not_found -= 1
                context.abort(grpc.StatusCode.NOT_FOUND, "unknown worker")
            return pb.HeartbeatReply(lease_millis=150, version=self.version)

    def PullModel(self, request, context):
        self._auth(context)
        with self.lock:
            data = weights.encode(self.model)
            version = self.version
        header = pb.ModelHeader(version=version, sha256=hashlib.sha256(data).digest(), total_bytes=len(data),
                                unchanged=request.known_version == version)
        yield pb.ModelPart(header=header)
        if not header.unchanged:
            for offset, piece, crc in split(data, 64):
                yield pb.ModelPart(chunk=pb.Chunk(offset=offset, data=piece, crc32c=crc))

    def PushUpdate(self, request_iterator, context):
        self._auth(context)
        header, data = None, bytearray()
        for part in request_iterator:
            if part.HasField("header"):
                header = part.header
            else:
                assert part.chunk.offset == len(data) and crc32c(part.chunk.data) == part.chunk.crc32c
                data += part.chunk.data
        assert len(data) == header.delta_bytes and header.codec == "safetensors"
        with self.lock:
            self.pushes.append((header.update_id, header.base_version))
            step = self.push_script.pop(0) if self.push_script else OK
            if isinstance(step, grpc.StatusCode):
                context.abort(step, f"scripted {step.name}")
            duplicate = header.update_id in self.applied
            if not duplicate:
                self.model["w"] = self.model["w"] + weights.decode(data)["w"]
                if not self.wait_for_new_version:  # a round publishes only when it closes
                    self.version += 1
                self.applied.append(header.update_id)
            if step == ACK_LOST:
                context.abort(grpc.StatusCode.UNAVAILABLE, "connection lost")
            return pb.PushAck(update_id=header.update_id, duplicate=duplicate, version=self.version,
                              staleness=self.version - 1 - header.base_version)

    def advance(self):
        """Publishes a version no worker pushed, as a round closing would."""
        with self.lock:
            self.version += 1


@pytest.fixture
def serve():
    servers = []

    def start(fake):
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        pb_grpc.add_CoordinatorServicer_to_server(fake, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return f"127.0.0.1:{port}"

    yield start
    for s in servers:
        s.stop(0)


class OnesTrainer:
    """get/set callbacks over one array; each round adds 1 to every weight."""

    def __init__(self):
        self.w = None
        self.seen = []

    def get(self):
        return {"w": self.w}

    def set(self, ws):
        self.seen.append(ws["w"].copy())
        self.w = ws["w"]

    def train(self, _model):
        self.w = self.w + 1
        return 8, {"loss": 0.5}, 2


def worker(address, trainer, **kw):
    return Worker(address, TOKEN, get_weights=trainer.get, set_weights=trainer.set, initial_backoff=0.01,
                  max_backoff=0.05, seed=1, **kw)


def test_updates_are_pushed_with_fresh_ids_and_the_delta_of_training(serve):
    fake = FakeCoordinator()
    t = OnesTrainer()
    with worker(serve(fake), t) as w:
        s = w.run(t.train, updates=3)
    assert s.acknowledged == 3 and len(set(s.update_ids)) == 3
    assert fake.applied == s.update_ids
    assert [base for _, base in fake.pushes] == [0, 1, 2]
    np.testing.assert_array_equal(fake.model["w"], np.full(4, 3, np.float32))
    assert fake.tokens == {"Bearer " + TOKEN}
    assert s.version == 3


def test_an_update_whose_ack_was_lost_is_sent_again_under_the_same_id_and_applied_once(serve, tmp_path):
    fake = FakeCoordinator(push_script=[ACK_LOST, grpc.StatusCode.UNAVAILABLE])
    t = OnesTrainer()
    with worker(serve(fake), t, ack_log=tmp_path / "acks") as w:
        s = w.run(t.train, updates=2)
    first = fake.pushes[0][0]
    assert [uid for uid, _ in fake.pushes[:3]] == [first, first, first]
    assert s.duplicates == 1 and s.retries == 2
    assert fake.applied == s.update_ids
    assert (tmp_path / "acks").read_text().split() == s.update_ids
    np.testing.assert_array_equal(fake.model["w"], np.full(4, 2, np.float32))


def test_a_refused_update_is_dropped_and_training_starts_again_from_a_fresh_pull(serve, caplog):
    fake = FakeCoordinator(push_script=[grpc.StatusCode.FAILED_PRECONDITION])
    t = OnesTrainer()
    with worker(serve(fake), t) as w:
        s = w.run(t.train, updates=1)
    assert s.refused == 1 and s.acknowledged == 1
    assert fake.pushes[0][0] != fake.pushes[1][0]
    # The second round started from the pulled weights, not from the first round's trained ones.
    np.testing.assert_array_equal(t.seen[1], np.zeros(4, np.float32))
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and "FAILED_PRECONDITION" in refusals[0].getMessage()


def test_resource_exhausted_is_retried_then_dropped_after_a_few_attempts(serve):
    fake = FakeCoordinator(push_script=[grpc.StatusCode.RESOURCE_EXHAUSTED] * 4)
    t = OnesTrainer()
    with worker(serve(fake), t) as w:
        s = w.run(t.train, updates=1)
    ids = [uid for uid, _ in fake.pushes]
    assert ids[:4] == [ids[0]] * 4 and ids[4] != ids[0]
    assert s.refused == 1 and s.retries == 3


def test_a_wrong_token_stops_the_worker_with_the_coordinators_reason(serve):
    fake = FakeCoordinator()
    t = OnesTrainer()
    w = Worker(serve(fake), "wrong", get_weights=t.get, set_weights=t.set)
    with pytest.raises(TributaryError, match="UNAUTHENTICATED: bad token"):
        w.run(t.train, updates=1)
    w.close()


def test_the_worker_registers_again_when_its_heartbeat_is_not_found(serve):
    fake = FakeCoordinator(heartbeat_not_found=1)
    t = OnesTrainer()

    def slow(model):
        threading.Event().wait(0.3)  # two heartbeats at least
        return t.train(model)

    with worker(serve(fake), t) as w:
        w.run(slow, updates=1)
    assert fake.registrations >= 2


def test_round_based_strategies_wait_for_a_newer_version_before_training_again(serve):
    fake = FakeCoordinator(wait_for_new_version=True)
    t = OnesTrainer()
    timer = threading.Timer(0.4, fake.advance)
    timer.start()
    with worker(serve(fake), t) as w:
        started = time.monotonic()
        w.run(t.train, updates=2)
        elapsed = time.monotonic() - started
    assert [base for _, base in fake.pushes] == [0, 1]
    assert elapsed >= 0.35


def test_an_unreachable_coordinator_is_given_up_on_after_the_limit():
    t = OnesTrainer()
    w = worker("127.0.0.1:1", t, give_up_after=0.3)
    with pytest.raises(TributaryError, match="no progress for"):
        w.run(t.train, updates=1)
    w.close()


def test_run_returns_only_after_its_heartbeat_thread_has_ended(serve):
    # A heartbeat thread still inside grpc when the interpreter exits aborts the process (exit 134).
    fake = FakeCoordinator()
    t = OnesTrainer()
    with worker(serve(fake), t) as w:
        w.run(t.train, updates=2)
        assert [th.name for th in threading.enumerate() if th.name == "tributary-heartbeat"] == []
