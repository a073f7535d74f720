"""Local stand-ins for the outside providers: HTTP receivers for the WeCom bot, the DingTalk bot
and the SMS gateway, and an SMTP server. Each records what arrives and can be told to fail."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class HttpReceiver:
    """Answers every POST with 200, or with ``failures_left`` 503s first; keeps what it accepted."""

    port: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    failures_left: int = 0
    answer_after_seconds: float = 0.0  # a provider slower than the sender waits
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        """A ``json://`` URL template for this receiver, ``{address}`` in the path."""
        return f"json://127.0.0.1:{self.port}/{path}/{{address}}"

    def handle(self, path: str, body: bytes) -> int:
        time.sleep(self.answer_after_seconds)
        with self.lock:
            if self.failures_left:
                self.failures_left -= 1
                self.refused += 1
                return 503
            self.received.append({"path": path, **json.loads(body)})
            return 200


class GatewayServer(ThreadingHTTPServer):
    """Accepts as many waiting connections as a provider's gateway would: the default of 5 drops
    the connects of a worker's concurrent sends, each then retried by the client a second later."""

    request_queue_size = 256


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """Serve ``handler`` on a free local port, in a thread, for as long as the block runs; yields
    the port. Closing waits for the requests being answered."""
    server = GatewayServer(("127.0.0.1", 0), handler)
    server.daemon_threads = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def http_receiver(receiver: HttpReceiver | None = None) -> Iterator[HttpReceiver]:
    """Serve ``receiver`` (a plain one by default) on a free local port."""
    served = receiver or HttpReceiver()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = served.handle(self.path, body)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    with serving(Handler) as served.port:
        yield served


@dataclass
class Mailbox:
    """What the SMTP server accepted: (recipients, subject, body) per mail."""

    port: int = 0
    mails: list[tuple[list[str], str, str]] = field(default_factory=list)

    def url(self) -> str:
        return f"mailto://liaison@127.0.0.1:{self.port}?mode=insecure&from=liaison@example.org&to={{address}}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        mail = message_from_bytes(envelope.original_content or b"")
        part = next((p for p in mail.walk() if p.get_content_maintype() == "text"), mail)
        payload = part.get_payload(decode=True)
        body = payload.decode(part.get_content_charset() or "utf-8") if isinstance(payload, bytes) else ""
        subject = str(make_header(decode_header(mail.get("Subject", ""))))
        self.mails.append(([str(to) for to in envelope.rcpt_tos], subject, body))
        return "250 OK"


def _free_port() -> int:
    """A port nobody listens on: aiosmtpd's controller cannot be told to pick one itself."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    mailbox = Mailbox(port=_free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
