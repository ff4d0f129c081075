"""Fixtures for the PyPI `pusher` SDK suite.

Starts the real relay server binary ($RELAY_BIN) on a free port of 127.0.0.1 with an
env-configured app, waits for GET /health, and stops it (SIGTERM, then SIGKILL) at the end.
Raw WebSocket connections (websocket-client) play the subscribers.
"""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid

import pusher
import pytest
import websocket

APP_ID = "515151"  # the PyPI SDK only accepts numeric app ids
APP_KEY = "py-e2e-key"
APP_SECRET = "py-e2e-secret"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, extra_env=None):
        bin_path = os.environ.get("RELAY_BIN")
        if not bin_path:
            raise RuntimeError(
                "RELAY_BIN is not set: point it at the relay server binary "
                "(e.g. RELAY_BIN=target/debug/relay-server-e2e) or run the suite through `cargo test`"
            )
        self.port = free_port()
        self.base_url = "http://127.0.0.1:%d" % self.port
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
        env.update(
            {
                "RELAY_BIND": "127.0.0.1:%d" % self.port,
                "RELAY_APP_ID": APP_ID,
                "RELAY_APP_KEY": APP_KEY,
                "RELAY_APP_SECRET": APP_SECRET,
                "RUST_LOG": os.environ.get("RELAY_TEST_RUST_LOG", "info"),
            }
        )
        env.update(extra_env or {})
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [bin_path], env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.time() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    "relay server exited with %s before becoming healthy:\n%s" % (self.proc.returncode, self.logs())
                )
            try:
                with urllib.request.urlopen(self.base_url + "/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                self.stop()
                raise RuntimeError("relay server not healthy after 30 s:\n%s" % self.logs())
            time.sleep(0.05)

    def logs(self):
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-20000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class RawClient:
    """A bare Pusher protocol 7 WebSocket client built on websocket-client."""

    def __init__(self, server, key=APP_KEY):
        url = "ws://127.0.0.1:%d/app/%s?protocol=7&client=python-e2e&version=1.0.0&flash=false" % (server.port, key)
        self.ws = websocket.create_connection(url, timeout=5)
        self.backlog = []
        self.close_code = None
        established = self.expect("pusher:connection_established")
        data = established["data"]
        assert isinstance(data, str), "connection_established data is a JSON string: %r" % (established,)
        self.socket_id = json.loads(data)["socket_id"]

    def send(self, event, data, channel=None):
        frame = {"event": event, "data": data}
        if channel is not None:
            frame["channel"] = channel
        self.ws.send(json.dumps(frame))

    def _read(self, timeout):
        """Next text frame as a dict, None on timeout; records the close code on close."""
        if self.close_code is not None:
            return None
        self.ws.settimeout(timeout)
        try:
            opcode, frame = self.ws.recv_data_frame(True)
        except websocket.WebSocketTimeoutException:
            return None
        except websocket.WebSocketConnectionClosedException:
            self.close_code = self.close_code or -1
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            payload = frame.data or b""
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            return None
        if opcode != websocket.ABNF.OPCODE_TEXT:
            return {}
        msg = json.loads(frame.data.decode("utf-8"))
        if msg.get("event") == "pusher:ping":
            self.send("pusher:pong", {})
        return msg

    def expect(self, event, channel=None, timeout=5.0, pred=None):
        """Returns the first frame (backlog first) with this event (and channel); fails on timeout."""
        def match(m):
            return (
                m.get("event") == event
                and (channel is None or m.get("channel") == channel)
                and (pred is None or pred(m))
            )

        for i, m in enumerate(self.backlog):
            if match(m):
                return self.backlog.pop(i)
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self._read(max(0.05, deadline - time.time()))
            if m is None:
                if self.close_code is not None:
                    break
                continue
            if not m:
                continue
            if match(m):
                return m
            self.backlog.append(m)
        raise AssertionError(
            "no %s%s within %.1f s; close_code=%s; other frames: %s"
            % (event, " on " + channel if channel else "", timeout, self.close_code, self.backlog[-8:])
        )

    def expect_none(self, event, seconds=0.7):
        deadline = time.time() + seconds
        while time.time() < deadline:
            m = self._read(max(0.05, deadline - time.time()))
            if m and m.get("event") == event:
                raise AssertionError("unexpected %s: %s" % (event, m))
            if m:
                self.backlog.append(m)

    def wait_closed(self, timeout=5.0):
        deadline = time.time() + timeout
        while self.close_code is None and time.time() < deadline:
            m = self._read(max(0.05, deadline - time.time()))
            if m:
                self.backlog.append(m)
        return self.close_code

    def subscribe(self, channel, auth="", channel_data=None):
        data = {"auth": auth, "channel": channel}
        if channel_data is not None:
            data["channel_data"] = channel_data
        self.send("pusher:subscribe", data)
        return self.expect(
            "pusher_internal:subscription_succeeded",
            channel=channel,
        )

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


@pytest.fixture(scope="session")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def client(server):
    """The PyPI SDK pointed at the test server."""
    return pusher.Pusher(
        app_id=APP_ID, key=APP_KEY, secret=APP_SECRET, ssl=False, host="127.0.0.1", port=server.port, timeout=10
    )


@pytest.fixture
def raw(server):
    """Factory of raw WebSocket connections, all closed after the test."""
    opened = []

    def make(**kw):
        c = RawClient(server, **kw)
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()


@pytest.fixture
def uniq():
    def make(prefix=""):
        return "%s%s" % (prefix, uuid.uuid4().hex[:12])

    return make
