"""Fixtures of the amc acceptance tests: the binary, servers on SQLite and PostgreSQL, tenants."""

from __future__ import annotations

import json
import os
import resource
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from amc_e2e import Api  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PG_HOST = os.environ.get("AMC_E2E_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("AMC_E2E_PG_PORT", "5432")
PG_USER = os.environ.get("AMC_E2E_PG_USER", "postgres")
START_TIMEOUT = float(os.environ.get("AMC_E2E_START_TIMEOUT", "60"))


def _backends() -> list[str]:
    raw = os.environ.get("AMC_E2E_BACKENDS", "sqlite,postgres")
    names = [b.strip() for b in raw.split(",") if b.strip()]
    unknown = set(names) - {"sqlite", "postgres"}
    if unknown:
        raise pytest.UsageError(f"AMC_E2E_BACKENDS: unknown backend(s) {sorted(unknown)}")
    return names


def random_key() -> tuple[str, str]:
    alphabet = string.ascii_letters + string.digits
    return "LTAI" + secrets.token_hex(10), "".join(secrets.choice(alphabet) for _ in range(30))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------------
# binary and databases


@pytest.fixture(scope="session")
def amc_bin() -> str:
    """The amc binary: $AMC_BIN, else target/debug/amc (then target/release/amc). Nothing is built here."""
    env = os.environ.get("AMC_BIN")
    candidates = [Path(env)] if env else [REPO / "target" / "debug" / "amc", REPO / "target" / "release" / "amc"]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c.resolve())
    pytest.fail(
        "amc binary not found (looked at "
        + ", ".join(str(c) for c in candidates)
        + "): run `cargo build -p amc` or set AMC_BIN",
        pytrace=False,
    )


class PgDatabases:
    """Creates uniquely named databases for this session and drops every one of them at the end."""

    def __init__(self) -> None:
        self.session = f"amc_e2e_{os.getpid()}_{secrets.token_hex(3)}"
        self.created: list[str] = []

    def _args(self) -> list[str]:
        return ["-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER]

    def create(self) -> str:
        name = f"{self.session}_{len(self.created)}"
        subprocess.run(["createdb", *self._args(), name], check=True, timeout=60, stdin=subprocess.DEVNULL)
        self.created.append(name)
        return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"

    def drop_all(self) -> None:
        # At once: each drop waits for a checkpoint, and these overlap.
        drops = [subprocess.Popen(["dropdb", *self._args(), "--if-exists", "--force", name],
                                  stdin=subprocess.DEVNULL) for name in self.created]
        for drop in drops:
            try:
                drop.wait(timeout=60)
            except subprocess.TimeoutExpired:
                drop.kill()
        self.created.clear()


@pytest.fixture(scope="session")
def pg_databases():
    dbs = PgDatabases()
    yield dbs
    dbs.drop_all()


# --------------------------------------------------------------------------------------------------
# servers


class AmcServer:
    """One `amc serve` process on a free port with its own data dir (and database for PostgreSQL)."""

    def __init__(self, binary: str, backend: str, data_dir: Path, database_url: str | None, *,
                 root_key: tuple[str, str] | None, delay_ms: int = 0, args: tuple[str, ...] = (),
                 nofile: int | None = None):
        self.binary = binary
        self.args = tuple(args)
        self.nofile = nofile
        self.backend = backend
        self.data_dir = data_dir
        self.database_url = database_url
        self.delay_ms = delay_ms
        self.env_key = root_key is not None
        self.root_key: tuple[str, str] | None = root_key
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.endpoint = self.host
        self.scheme = "https" if "--tls-cert" in self.args else "http"
        self.url = f"{self.scheme}://{self.host}"
        self.log_path = data_dir / "server.log"
        self.cwd = data_dir
        self.proc: subprocess.Popen | None = None
        self._log = None

    # -- process control
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("AMC_DATABASE_URL", "AMC_ROOT_ACCESS_KEY_ID", "AMC_ROOT_ACCESS_KEY_SECRET",
                            "AMC_SIM_STEP_DELAY_MS", "AMC_ACCESS_KEY_ID", "AMC_ACCESS_KEY_SECRET")}
        if self.env_key and self.root_key:
            env["AMC_ROOT_ACCESS_KEY_ID"], env["AMC_ROOT_ACCESS_KEY_SECRET"] = self.root_key
        env.setdefault("RUST_BACKTRACE", "1")
        # Many tests sign hundreds of calls a second with one key; the rate limit is tested where
        # a test sets --api-rate-limit, which wins over this.
        env.setdefault("AMC_API_RATE_LIMIT", "0")
        return env

    def command(self) -> list[str]:
        cmd = [self.binary, "serve", "--data-dir", str(self.data_dir), "--listen", self.host,
               "--sim-step-delay-ms", str(self.delay_ms)]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        return cmd + list(self.args)

    def _preexec(self) -> None:
        if self.nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        self._log = open(self.log_path, "ab")
        self._log.write(f"\n=== e2e: starting {' '.join(self.command())}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env(), cwd=self.cwd,
                                     preexec_fn=self._preexec if self.nofile is not None else None)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"amc serve exited with {self.proc.returncode} before /healthz answered:\n{self.log_tail()}")
            try:
                # A TLS server's certificate is the test's own: what it proves is checked there.
                if requests.get(f"{self.url}/healthz", timeout=2, verify=False).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"amc serve did not answer /healthz within {START_TIMEOUT}s:\n{self.log_tail()}")
            time.sleep(0.1)
        if self.root_key is None:
            self.root_key = self.read_root_key_file()

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM, wait; SIGKILL if it does not stop in time. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        code = self.proc.returncode
        if self._log:
            self._log.close()
            self._log = None
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self._log:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop with SIGTERM and start again on the same store and port."""
        self.stop()
        self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss_kib(self) -> int:
        """Resident memory of the running server (VmRSS of /proc/<pid>/status), in KiB."""
        assert self.alive(), self.log_tail()
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        pytest.fail("/proc/<pid>/status has no VmRSS")

    # -- files and admin
    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def read_root_key_file(self) -> tuple[str, str]:
        data = json.loads((self.data_dir / "root-access-key.json").read_text())
        return data["AccessKeyId"], data["AccessKeySecret"]

    def store_args(self) -> list[str]:
        """The store flags the server runs with: admin commands take the same ones."""
        if self.database_url:
            return ["--data-dir", str(self.data_dir), "--database-url", self.database_url]
        return ["--data-dir", str(self.data_dir)]

    def admin(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([self.binary, "admin", *args], capture_output=True, text=True, timeout=timeout,
                              env=self.env(), stdin=subprocess.DEVNULL, cwd=self.data_dir)

    def create_tenant(self, name: str | None = None) -> dict:
        name = name or f"e2e-{uuid.uuid4().hex[:10]}"
        res = self.admin("tenant", "create", "--name", name, *self.store_args())
        assert res.returncode == 0, f"amc admin tenant create failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
        try:
            data = json.loads(res.stdout)
        except ValueError:
            pytest.fail(f"amc admin tenant create: stdout is not one JSON object: {res.stdout!r}")
        for field in ("AccountId", "AccessKeyId", "AccessKeySecret"):
            assert data.get(field), f"amc admin tenant create: {field} missing in {data}"
        return data

    def api(self, key: tuple[str, str] | None = None, v2: bool = False) -> Api:
        return Api(self, key or self.root_key, v2=v2)


@pytest.fixture(scope="session", params=_backends())
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def _workdir():
    d = Path(tempfile.mkdtemp(prefix="amc-e2e-"))
    yield d
    if os.environ.get("AMC_E2E_KEEP") != "1":
        shutil.rmtree(d, ignore_errors=True)


class ServerFactory:
    def __init__(self, binary: str, backend: str, workdir: Path, pg: PgDatabases):
        self.binary, self.backend, self.workdir, self.pg = binary, backend, workdir, pg
        self.servers: list[AmcServer] = []

    def __call__(self, *, delay_ms: int = 0, env_key: bool = True, start: bool = True,
                 args: tuple[str, ...] = (), nofile: int | None = None) -> AmcServer:
        """A new server on a store of its own. ``args``: more `amc serve` flags; ``nofile``: its
        RLIMIT_NOFILE (soft and hard), set before it starts."""
        data_dir = Path(tempfile.mkdtemp(prefix=f"{self.backend}-", dir=self.workdir))
        db = self.pg.create() if self.backend == "postgres" else None
        srv = AmcServer(self.binary, self.backend, data_dir, db, root_key=random_key() if env_key else None,
                        delay_ms=delay_ms, args=args, nofile=nofile)
        self.servers.append(srv)
        if start:
            srv.start()
        return srv

    def replica(self, of: AmcServer, *, args: tuple[str, ...] | None = None,
                nofile: int | None = None) -> AmcServer:
        """A second `amc serve` on the same PostgreSQL database as ``of`` (with its master key), on a
        port and data dir of its own: replicas share everything through the database. ``args``:
        its `amc serve` flags (``of``'s by default)."""
        assert of.database_url, "replicas share a PostgreSQL database; SQLite belongs to one process"
        data_dir = Path(tempfile.mkdtemp(prefix=f"{self.backend}-replica-", dir=self.workdir))
        shutil.copy2(of.data_dir / "master.key", data_dir / "master.key")
        args = of.args if args is None else args
        if "--objects-dir" not in args and "--objects-url" not in args:
            # Replicas share the object store as they share the database: uploads to one are
            # parsed by whichever takes the task.
            args = (*args, "--objects-dir", str(of.data_dir / "objects"))
        srv = AmcServer(self.binary, self.backend, data_dir, of.database_url, root_key=of.root_key,
                        delay_ms=of.delay_ms, args=args, nofile=nofile)
        self.servers.append(srv)
        srv.start()
        return srv

    def sibling(self, of: AmcServer, *, args: tuple[str, ...] = (), nofile: int | None = None) -> AmcServer:
        """A server with flags of its own that shares ``of``'s store where a store can be shared (a
        replica on PostgreSQL: no database to create), with a store of its own on SQLite."""
        if of.database_url:
            return self.replica(of, args=args, nofile=nofile)
        return self(args=args, nofile=nofile)

    def close(self) -> None:
        for srv in self.servers:
            srv.kill()


@pytest.fixture(scope="session")
def _session_factory(amc_bin, backend, _workdir, pg_databases):
    factory = ServerFactory(amc_bin, backend, _workdir, pg_databases)
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def server(_session_factory) -> AmcServer:
    """The shared server of one backend (no provisioning delay). Tests isolate themselves with `tenant`."""
    return _session_factory(delay_ms=0)


@pytest.fixture(scope="session")
def replica(server, _session_factory) -> AmcServer:
    """A second replica of the shared server: another `amc serve` on the same PostgreSQL database
    (skipped on SQLite, whose store one process owns)."""
    if server.backend != "postgres":
        pytest.skip("replicas share a PostgreSQL database")
    return _session_factory.replica(server)


@pytest.fixture
def server_factory(amc_bin, backend, _workdir, pg_databases):
    """Start dedicated servers for one test (same backend); all are killed when the test ends."""
    factory = ServerFactory(amc_bin, backend, _workdir, pg_databases)
    yield factory
    factory.close()


@pytest.fixture
def replica_of(server_factory, backend):
    """Starts a second `amc serve` on the same PostgreSQL database as a given server (killed when
    the test ends): ``replica_of(srv)``. PostgreSQL only: a SQLite store belongs to one process."""
    if backend != "postgres":
        pytest.skip("replicas share a PostgreSQL database")
    return server_factory.replica


@pytest.fixture
def tenant(server) -> Api:
    """A fresh tenant on the shared server, with SDK clients signed by its root key."""
    info = server.create_tenant()
    api = server.api((info["AccessKeyId"], info["AccessKeySecret"]))
    api.info = info
    return api


@pytest.fixture
def root(server) -> Api:
    return server.api()
