"""The WeCom and DingTalk bot APIs, stood in for through an HTTPS proxy.

Apprise's ``wecombot://`` and ``dingtalk://`` plugins post to fixed hosts (qyapi.weixin.qq.com,
oapi.dingtalk.com). Their requests honour ``HTTPS_PROXY``, so pointed at this proxy they open a
tunnel to it; the proxy ends the tunnel's TLS itself (a certificate of its own, which the test's
``?verify=no`` accepts) and answers as the bot API does, keeping what arrived: the real plugins'
requests, checked without reaching any outside host.
"""

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.notify.receivers import QuietHandler, serving

BOT_HOSTS = ("qyapi.weixin.qq.com", "oapi.dingtalk.com")


@dataclass
class BotApi:
    """Keeps each request that came through a tunnel: host, path, query and JSON body; answers
    each with HTTP 200 and ``answer`` (the APIs' refusals come with 200 too, errcode not 0)."""

    port: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    answer: dict[str, Any] = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for the bot hosts."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, BOT_HOSTS[0])])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host) for host in BOT_HOSTS]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "bot.pem", folder / "bot.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@contextmanager
def bot_api() -> Iterator[BotApi]:
    """Serve the proxy on a free local port for as long as the block runs."""
    api = BotApi()
    with TemporaryDirectory() as folder:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(*_certificate(Path(folder)))

        class BotRequest(QuietHandler):
            """One request inside a tunnel, answered as the bot APIs answer."""

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = urlsplit(self.path)
                arrived = {"host": self.headers["Host"], "path": parts.path, "query": parse_qs(parts.query)}
                with api.lock:
                    api.received.append({**arrived, "body": json.loads(body)})
                answer = json.dumps(api.answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        class Tunnel(QuietHandler):
            def do_CONNECT(self) -> None:
                self.send_response(200, "Connection established")
                self.end_headers()
                self.close_connection = True
                BotRequest(tls.wrap_socket(self.connection, server_side=True), self.client_address, self.server)

        with serving(Tunnel) as api.port:
            yield api
