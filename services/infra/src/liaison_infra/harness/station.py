"""``make station``: the whole system on one machine.

Starts the embedded servers (or uses the ones named by MONGODB_URL, KAFKA_BOOTSTRAP_SERVERS,
REDIS_URL), makes the JWT key pair on first start, then every process of every installed
service. A process that dies is started again; Ctrl-C stops everything, services first.
Data lives under ``var/`` and survives a restart; logs go to ``var/log/``.
"""

import os
import signal
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType

from liaison_infra.harness.processes import ManagedProcess, free_port, stop_all
from liaison_infra.harness.servers import Endpoints, LocalServers
from liaison_infra.keys import Keys
from liaison_infra.service import ServiceDefinition, installed_services

VAR = Path("var")
# Where the running station says how to reach it; `liaison-run` reads it for commands run by hand.
STATION_ENV = VAR / "station.env"
RESTART_DELAY_SECONDS = 2.0
WORKERS = ("relay", "consumer")  # processes that serve Prometheus metrics on a port of their own


def service_environment(definition: ServiceDefinition, endpoints: Endpoints, keys: Keys) -> dict[str, str]:
    prefix = definition.env_prefix
    return {
        f"{prefix}MONGODB_URL": endpoints.mongodb_url,
        f"{prefix}KAFKA_BOOTSTRAP_SERVERS": endpoints.kafka_bootstrap_servers,
        f"{prefix}REDIS_URL": endpoints.redis_url,
        f"{prefix}JWT_PUBLIC_KEY_FILE": str(keys.jwt_public.resolve()),
        f"{prefix}PII_KEYRING_FILE": str(keys.pii_keyring.resolve()),
    }


def service_processes(endpoints: Endpoints, keys: Keys) -> list[ManagedProcess]:
    processes = []
    for name, definition in installed_services().items():
        env = service_environment(definition, endpoints, keys)
        env.update({f"{definition.env_prefix}{worker.upper()}_METRICS_PORT": str(free_port()) for worker in WORKERS})
        for process in definition.processes:
            processes.append(
                ManagedProcess(
                    f"{name}-{process}",
                    [sys.executable, "-m", "liaison_infra.run", name, process],
                    VAR / "log" / f"{name}-{process}.log",
                    env=env,
                )
            )
    return processes


def write_station_env(processes: list[ManagedProcess]) -> None:
    variables = {name: value for process in processes for name, value in process.env.items()}
    STATION_ENV.write_text("".join(f"{name}={value}\n" for name, value in sorted(variables.items())))


def load_station_env(path: Path = STATION_ENV) -> None:
    """Let a command run by hand reach the running station; the environment still wins."""
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        if name:
            os.environ.setdefault(name, value)


def wait_for_health(url: str, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def main() -> None:
    stopping = False

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    servers = LocalServers(var=VAR)
    processes: list[ManagedProcess] = []
    try:
        endpoints = servers.start()
        keys = Keys.ensure(VAR / "keys")
        processes = service_processes(endpoints, keys)
        write_station_env(processes)
        for process in processes:
            process.start()
        print_where(endpoints, keys.jwt_public)
        while not stopping:
            for process in processes:
                if not process.alive and not stopping:
                    sys.stderr.write(f"{process.name} stopped; restarting (see {process.log_path})\n")
                    time.sleep(RESTART_DELAY_SECONDS)
                    process.start()
            time.sleep(0.5)
    finally:
        sys.stdout.write("stopping…\n")
        stop_all(processes)
        servers.stop()
        STATION_ENV.unlink(missing_ok=True)


def print_where(endpoints: Endpoints, public_key: Path) -> None:
    lines = [
        f"MongoDB wire   {endpoints.mongodb_url}",
        f"Kafka          {endpoints.kafka_bootstrap_servers}",
        f"Redis          {endpoints.redis_url}",
        f"JWT public key {public_key}",
    ]
    for name, definition in installed_services().items():
        port = definition.settings.model_fields["http_port"].default
        url = f"http://127.0.0.1:{port}"
        state = "ready" if wait_for_health(f"{url}/healthz") else "NOT ANSWERING (see var/log)"
        lines.append(f"{name:<14} {url}  docs {url}/docs  [{state}]")
    lines.append(f"metrics        /metrics of each API; relay and consumer ports in {STATION_ENV}")
    lines.append("logs           var/log/   token: make token ROLE=admin   stop: Ctrl-C")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
