"""The measurement behind scripts/bench-upload: an amc server, GetOssStsToken through the official
SDK, then an upload of MiB mebibytes streamed from a generator (never in the client's memory
either) with oss2's put_object, and the same size as 10 multipart parts. Prints the server's
resident memory before and its peak (VmHWM) after each, and the throughput."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import oss2
from alibabacloud_ecd20210602 import models
from alibabacloud_ecd20210602.client import Client
from alibabacloud_tea_openapi.models import Config


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit(f"no {field} in /proc/{pid}/status")


def main() -> None:
    binary, mib = sys.argv[1], int(sys.argv[2])
    data_dir = Path(tempfile.mkdtemp(prefix="amc-bench-upload-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, AMC_ROOT_ACCESS_KEY_ID="LTAIbenchupload00000001",
               AMC_ROOT_ACCESS_KEY_SECRET="bench-upload-secret-0000000001", AMC_LOG="warn")
    server = subprocess.Popen([binary, "serve", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}",
                               "--upload-max-mib", str(mib + 1)], env=env, stdin=subprocess.DEVNULL)
    try:
        cfg = Config(access_key_id=env["AMC_ROOT_ACCESS_KEY_ID"],
                     access_key_secret=env["AMC_ROOT_ACCESS_KEY_SECRET"],
                     endpoint=f"127.0.0.1:{port}", protocol="http", region_id="cn-hangzhou")
        client = Client(cfg)
        for _ in range(100):
            try:
                token = client.get_oss_sts_token(models.GetOssStsTokenRequest(file_type="SKILL")).body
                break
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.1)
        bucket = oss2.Bucket(oss2.StsAuth(token.access_key_id, token.access_key_secret, token.security_token),
                             f"http://127.0.0.1:{port}", token.bucket)
        piece = os.urandom(1024 * 1024)
        results = {"MiB": mib}

        def body(n):
            for _ in range(n):
                yield piece

        results["rss_before_kib"] = status_kib(server.pid, "VmRSS")
        start = time.monotonic()
        bucket.put_object(token.object_key_prefix + "big.zip", body(mib))
        put_s = time.monotonic() - start
        results["put_seconds"] = round(put_s, 2)
        results["put_MiB_per_s"] = round(mib / put_s, 1)
        results["peak_after_put_kib"] = status_kib(server.pid, "VmHWM")

        key = token.object_key_prefix + "big-multipart.zip"
        upload_id = bucket.init_multipart_upload(key).upload_id
        per_part = mib // 10
        parts = []
        start = time.monotonic()
        for n in range(1, 11):
            res = bucket.upload_part(key, upload_id, n, body(per_part))
            parts.append(oss2.models.PartInfo(n, res.etag))
        bucket.complete_multipart_upload(key, upload_id, parts)
        mp_s = time.monotonic() - start
        results["multipart_seconds"] = round(mp_s, 2)
        results["multipart_MiB_per_s"] = round(per_part * 10 / mp_s, 1)
        results["peak_after_multipart_kib"] = status_kib(server.pid, "VmHWM")
        print(json.dumps(results, indent=1))
    finally:
        server.kill()
        server.wait()
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)


if __name__ == "__main__":
    main()
