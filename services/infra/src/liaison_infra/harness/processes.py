"""Child processes that start on a free port, are proven to be the ones answering, and stop."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil


class StartFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listens_on(pid: int, port: int) -> bool:
    """Whether the process ``pid`` or one of its children listens on ``port``."""
    try:
        parent = psutil.Process(pid)
        family = [parent, *parent.children(recursive=True)]
        return any(
            conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port
            for proc in family
            for conn in proc.net_connections(kind="tcp")
        )
    except psutil.NoSuchProcess:
        return False


@dataclass
class ManagedProcess:
    """A child process with its own log file and process group."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            list(self.argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env},
            cwd=self.cwd,
            start_new_session=True,
        )
        log.close()

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def terminate(self) -> None:
        """Ask the whole process group to stop (SIGTERM); ``stop`` waits for it."""
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after ``timeout``."""
        if self.popen is None:
            return
        self.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        self.popen = None

    def tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def stop_all(processes: Sequence[ManagedProcess]) -> None:
    """Stop processes together: all are asked at once, then each is waited for."""
    for process in processes:
        process.terminate()
    for process in processes:
        process.stop()


def start_listening(
    name: str,
    argv_for_port: Callable[[int], Sequence[str]],
    log_path: Path,
    *,
    answers: Callable[[int], bool] = lambda _: True,
    timeout: float = 60.0,
    attempts: int = 3,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> tuple[ManagedProcess, int]:
    """Start a server on a free port and wait until it, not another program, answers there.

    Another program may take the port between choosing and binding it; then the server is
    restarted on a new port. A fixed ``port`` is retried as it is (a restart keeps its port).
    """
    for _ in range(attempts):
        chosen = port or free_port()
        process = ManagedProcess(name, argv_for_port(chosen), log_path, env=env or {})
        process.start()
        assert process.popen is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.alive:
            if listens_on(process.popen.pid, chosen) and answers(chosen):
                return process, chosen
            time.sleep(0.1)
        process.stop()
    raise StartFailed(f"{name} did not start; its log ends with:\n{process.tail()}")
