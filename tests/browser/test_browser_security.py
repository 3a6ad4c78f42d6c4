"""The server's own safety settings (.streamlit/config.toml), checked against a live server:
the WebSocket refuses a foreign Host (DNS rebinding) and an oversized message, and an uncaught
exception reaches the browser as a generic message without traceback, type or server paths."""

import base64
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.helpers import wait_for_script_run
from tests.conftest import ROOT, StreamlitServer, free_port

pytestmark = pytest.mark.browser


def websocket_status(port: int, host: str, origin: str) -> int:
    """The HTTP status of a WebSocket upgrade of Streamlit's stream endpoint."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Protocol: streamlit\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        status_line = sock.recv(4096).split(b"\r\n", 1)[0].decode()
    return int(status_line.split()[1])


def oversized_message_reply(port: int, size: int) -> bytes:
    """Open Streamlit's stream, announce one binary message of `size` bytes, send its first
    64 KB and return what the server answers (a close frame, or nothing once it hangs up)."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Origin: http://127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Protocol: streamlit\r\n\r\n")
    mask = os.urandom(4)
    header = bytes([0x82, 0x80 | 127]) + size.to_bytes(8, "big") + mask
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += sock.recv(4096)
        assert response.split()[1] == b"101", response
        reply = response.split(b"\r\n\r\n", 1)[1]
        try:
            sock.sendall(header + bytes(64 * 1024))
            while len(reply) < 4:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
    return reply


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    served = StreamlitServer(tmp_path_factory.mktemp("security") / "streamlit.log")
    yield served
    served.stop()


def test_websocket_refuses_a_foreign_host(server):
    """Host and Origin evil.example: the upgrade is refused, no session opens."""
    assert websocket_status(server.port, "evil.example", "http://evil.example") != 101


def test_websocket_accepts_localhost(server):
    """Host localhost (and 127.0.0.1) with a matching Origin: the upgrade succeeds."""
    for host in ("localhost", "127.0.0.1"):
        origin = f"http://{host}:{server.port}"
        assert websocket_status(server.port, f"{host}:{server.port}", origin) == 101


def test_an_oversized_message_is_refused_unread(server):
    """Issue 29: a message announced larger than `server.maxMessageSize` (4 MB) is refused
    from its header with close code 1009 (message too big), before the server buffers it;
    under Streamlit's 200 MB default it read 190 MB per socket."""
    reply = oversized_message_reply(server.port, 5 * 10**6)
    assert reply[:1] == b"\x88", reply[:16]  # a close frame
    assert int.from_bytes(reply[2:4], "big") == 1009


def test_uncaught_exception_shows_no_details(browser, tmp_path):
    """A page that raises shows a generic error: no exception message, type, traceback or
    path, with the project's config.toml (copied beside a one-line failing script)."""
    shutil.copytree(ROOT / ".streamlit", tmp_path / ".streamlit")
    (tmp_path / "boom.py").write_text(
        "raise RuntimeError('secret detail at /srv/bnnlab/private.py')\n")
    port = free_port()
    log = open(tmp_path / "log.txt", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "boom.py", "--server.port", str(port),
         "--server.address", "127.0.0.1"], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        context = browser.new_context()
        tab = context.new_page()
        for _ in range(60):
            try:
                tab.goto(f"http://127.0.0.1:{port}")
                break
            except Exception:  # noqa: BLE001 - server still starting
                tab.wait_for_timeout(500)
        wait_for_script_run(tab)
        tab.locator("[data-testid=stException], [data-testid=stAlert]").first.wait_for()
        text = tab.locator("[data-testid=stMain]").inner_text()
        for leak in ("secret detail", "RuntimeError", "Traceback", "/srv/", "boom.py",
                     str(tmp_path)):
            assert leak not in text, (leak, text)
        context.close()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
    assert "secret detail" in Path(tmp_path / "log.txt").read_text()  # the log still has it
