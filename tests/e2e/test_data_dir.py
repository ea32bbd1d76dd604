"""The data dir holds the master key, the first access key and, on SQLite, every tenant's records:
it is the owner's alone (issue 11, defect 12)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from conftest import AmcServer, random_key


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def private_files(data_dir: Path) -> dict[str, tuple[int, bool]]:
    """Every file under the data dir (the nonce log's and the object store's included) and every
    directory in it: its mode, and whether it is a directory."""
    return {str(p.relative_to(data_dir)): (mode(p), p.is_dir()) for p in data_dir.rglob("*")
            if p.name != "server.log"}


def assert_private(files: dict[str, tuple[int, bool]]) -> None:
    wrong = {n: oct(m) for n, (m, is_dir) in files.items() if m != (0o700 if is_dir else 0o600)}
    assert not wrong, wrong


@pytest.fixture
def fresh_server(amc_bin, backend, tmp_path, pg_databases):
    if backend != "sqlite":
        pytest.skip("the database files are SQLite's")
    servers: list[AmcServer] = []

    def start(data_dir: Path) -> AmcServer:
        srv = AmcServer(amc_bin, backend, data_dir, None, root_key=random_key())
        srv.log_path = tmp_path / f"server-{len(servers)}.log"
        srv.cwd = tmp_path
        servers.append(srv)
        srv.start()
        return srv

    yield start
    for srv in servers:
        srv.kill()


def test_a_new_data_dir_and_every_file_in_it_are_private(fresh_server, tmp_path):
    data_dir = tmp_path / "not-yet" / "data"
    srv = fresh_server(data_dir)
    srv.api().describe()
    # An uploaded and parsed skill package: the object store and the parse scratch folder.
    from test_skill_upload import upload_and_parse, weather_zip
    from test_skills import ecd
    assert upload_and_parse(srv, ecd(srv, srv.root_key), "weather.zip", weather_zip())["Status"] == "COMPLETED"
    files = private_files(data_dir)
    assert any(n.startswith("objects/amc-skills/tenants/") for n in files), files
    # While the server runs, SQLite keeps its write-ahead log and shared memory beside each file.
    assert {"amc.db", "amc.db-wal", "amc.db-shm", "amc-nonces", "master.key"} <= set(files), files
    assert any(n.startswith("amc-nonces/") for n in files), "the signed call's nonce is in the log"
    assert "tmp/skill-parse" in files and not [n for n in files if n.startswith("tmp/skill-parse/")]
    assert mode(data_dir) == 0o700
    assert_private(files)


def test_an_existing_open_data_dir_is_tightened(fresh_server, tmp_path):
    data_dir = tmp_path / "open"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    srv = fresh_server(data_dir)
    srv.stop()
    (data_dir / "amc.db").chmod(0o644)
    data_dir.chmod(0o755)
    srv.start()
    assert mode(data_dir) == 0o700
    assert_private(private_files(data_dir))
