"""A server under load exits within 10 s of SIGTERM.

What held it: uvicorn's graceful shutdown waits, without a time limit, for every connection to
close, and a WebSocket whose peer stopped reading never closes (its close frame waits behind the
unsent data). `runtime.bound_exit_on_sigterm` ends the process `SIGTERM_GRACE_S` s after SIGTERM.
The learners speak Streamlit's protocol and the push route (tools/loadtest/protocol_client.py),
no browser: two train with their frames pushed, one stops reading.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from websockets.sync.client import connect

from bnnlab.core import runtime
from tests.conftest import ROOT, StreamlitServer

sys.path.insert(0, str(ROOT / "tools" / "loadtest"))
import protocol_client  # noqa: E402
from protocol_client import Learner  # noqa: E402

QUERY = "num_points=200&hidden=16,16&num_samples=4&steps_per_chunk=20&grid_size=40&steps=100000"
STALLED_QUERY = QUERY.replace("grid_size=40", "grid_size=150")  # larger page runs to pile up
EXIT_WITHIN_S = 10.0
MAX_RERUNS = 300  # bounds the filling of the stalled reader's connection


def _stalled_connect(uri: str, **kwargs):
    """protocol_client's `connect`, on a socket with a 4 KB receive buffer (set before connecting:
    a small window) and without keepalive pings, which would close a connection whose peer stops
    answering: once its reader stops reading, the server's data for it piles up."""
    where = urlsplit(uri)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((where.hostname, where.port))
    return connect(uri, sock=sock, **{**kwargs, "ping_interval": None})


def _unsent_bytes(server_port: int, client_port: int) -> int:
    """The server's send queue towards `client_port` (bytes sent but not acknowledged), from
    /proc/net/tcp."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, queues = fields[1], fields[2], fields[4]
        if (int(local.split(":")[1], 16) == server_port
                and int(remote.split(":")[1], 16) == client_port):
            return int(queues.split(":")[0], 16)
    return 0


def _fill_until_stuck(server: StreamlitServer, stalled: Learner) -> int:
    """Rerun the stalled learner's page (reading nothing) until the server's kernel send buffer
    towards it stops growing: from then on its data waits in the server's own write buffer.
    Returns the bytes queued in the kernel."""
    client_port = stalled._ws.socket.getsockname()[1]
    queued, flat = 0, 0
    for _ in range(MAX_RERUNS):
        stalled._rerun()  # one page run's output, which nobody reads
        time.sleep(0.2)
        now = _unsent_bytes(server.port, client_port)
        flat = flat + 1 if now and now <= queued else 0
        queued = max(queued, now)
        if flat >= 5:
            return queued
    raise AssertionError(f"the send queue kept growing after {MAX_RERUNS} reruns ({queued} B)")


def _sigterm_and_time(server: StreamlitServer) -> tuple[int, float]:
    sent = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    try:
        code = server.proc.wait(EXIT_WITHIN_S)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
        raise AssertionError(f"the server ran on {EXIT_WITHIN_S} s after SIGTERM:\n"
                             f"{server.log()[-3000:]}") from None
    return code, time.monotonic() - sent


def _train(server: StreamlitServer, count: int) -> list[Learner]:
    """`count` learners on the playground, training, their frames pushed; each has shown a
    step."""
    learners = []
    for _ in range(count):
        learner = Learner(server.url, "playground", QUERY, timeout=180)
        learners.append(learner)
        learner.run_page()
        learner.run_page("Train")
        learner.subscribe()
    for learner in learners:
        assert learner.wait_step(0, 120) is not None, learner.errors
    return learners


@pytest.fixture
def server(tmp_path):
    server = StreamlitServer(tmp_path / "streamlit.log")
    yield server
    server.stop()


@pytest.mark.slow  # a live server, three learners, a page run piled up ~150 times
def test_a_server_under_load_with_a_stalled_reader_exits_within_10_s_of_sigterm(
        server, monkeypatch):
    """Two sessions training and a third whose browser stopped reading: SIGTERM ends the server
    within 10 s (the watchdog's forced exit: the graceful shutdown waited for the stalled
    connection, as in issue 29)."""
    learners = _train(server, 2)
    with monkeypatch.context() as patch:
        patch.setattr(protocol_client, "connect", _stalled_connect)
        stalled = Learner(server.url, "playground", STALLED_QUERY, timeout=180)
    learners.append(stalled)
    try:
        stalled.run_page()  # read normally once: its session exists
        _fill_until_stuck(server, stalled)
        steps = [learner.frames.steps[-1] for learner in learners[:2]]
        assert all(learner.wait_step(step, 60) is not None
                   for learner, step in zip(learners[:2], steps, strict=True)), "not training"
        code, took = _sigterm_and_time(server)
    finally:
        for learner in learners:
            learner._push_stop.set()  # their connections are gone with the server
    assert code == runtime.FORCED_EXIT_CODE, (code, server.log()[-3000:])
    assert f"still running {runtime.SIGTERM_GRACE_S:g} s after SIGTERM" in server.log()
    print(f"exit {took:.2f} s after SIGTERM, code {code}")


@pytest.mark.slow  # a live server and two learners
def test_a_server_under_load_exits_at_once_on_sigterm(server):
    """Two sessions training, every client reading: the graceful shutdown ends by itself, well
    before the watchdog (killed by the re-raised SIGTERM, as a fresh server is)."""
    learners = _train(server, 2)
    try:
        code, took = _sigterm_and_time(server)
    finally:
        for learner in learners:
            learner._push_stop.set()
    assert code == -signal.SIGTERM and took < runtime.SIGTERM_GRACE_S / 2, (code, took)
    print(f"exit {took:.2f} s after SIGTERM, code {code}")
