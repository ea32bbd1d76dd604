"""Helpers shared by the amc acceptance tests.

Ways to talk to the server, from the most official to the most raw:

* the generated Alibaba Cloud SDK clients (``ecd_client`` / ``appstream_client``, signature V3 by default,
  V2 with ``v2=True``);
* ``aliyunsdkcore`` (the old core SDK, V2 signatures, GET or POST), which stands in for the aliyun CLI;
* ``pop_core``: the Node ``@alicloud/pop-core`` RPCClient (V2, everything in a form body with POST),
  run by ``node/popcore.js`` from ``target/node-e2e``;
* ``raw_v3`` / ``raw_v2`` / ``raw_v2_form``: requests signed here with hmac/hashlib, so that single fields
  (nonce, date, Authorization, parameters) can be chosen freely;
* ``exchange`` / ``parse_responses``: bytes on a raw socket, for what no HTTP client sends.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import json
import os
import socket
import subprocess
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest
import requests

REGION = "cn-hangzhou"
V_ECD = "2020-09-30"
V_APPSTREAM = "2021-09-01"

IMG_UBUNTU = "imgc-0ae8jvkn4tzatayay"  # OpenClaw_Ubuntu 22.04
IMG_WINDOWS = "imgc-0aae4rxv3pz7idcot"  # OpenClaw_Windows 11
BUNDLE_OPENCLAW = "b-openclaw-linux"  # JVS Claw
BUNDLE_HERMES = "b-hermes-linux"  # Hermes Agent

ERROR_FIELDS = ("RequestId", "HostId", "Code", "Message", "Recommend")
REPO = Path(__file__).resolve().parents[2]
NODE_DIR = Path(os.environ.get("AMC_E2E_NODE_DIR", REPO / "target" / "node-e2e"))
FORM = "application/x-www-form-urlencoded"


# --------------------------------------------------------------------------------------------------
# encoding and signing


def enc(value: Any) -> str:
    """RFC 3986 percent-encoding as the POP signers use it."""
    return urllib.parse.quote(str(value), safe="~")


def utc_stamp(offset_seconds: float = 0) -> str:
    t = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=offset_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_nonce() -> str:
    return uuid.uuid4().hex


def flatten(params: dict[str, Any] | None) -> dict[str, str]:
    """The SDKs' repeat-list flattening: lists -> Name.1, Name.2; dicts -> Name.Key; bools -> True/False."""
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value, 1):
                walk(f"{prefix}.{i}", v)
        else:
            out[prefix] = str(value)

    for k, v in (params or {}).items():
        walk(k, v)
    return out


def canonical_query(params: dict[str, str]) -> str:
    return "&".join(f"{enc(k)}={enc(params[k])}" for k in sorted(params))


def sign_v3_headers(
    method: str,
    host: str,
    action: str,
    version: str,
    query: dict[str, str],
    body: bytes,
    content_type: str | None,
    access_key_id: str,
    secret: str,
    date: str | None = None,
    nonce: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """Headers (Authorization included) of an ACS3-HMAC-SHA256 request; ``extra_headers`` are signed too."""
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": date or utc_stamp(),
        "x-acs-signature-nonce": nonce or new_nonce(),
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    if content_type:
        headers["content-type"] = content_type
    headers.update({k.lower(): v for k, v in (extra_headers or {}).items()})
    names = sorted(headers)
    canonical_headers = "".join(f"{n}:{headers[n].strip()}\n" for n in names)
    signed = ";".join(names)
    canonical_request = "\n".join(
        [method.upper(), "/", canonical_query(query), canonical_headers, signed, headers["x-acs-content-sha256"]]
    )
    string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical_request.encode()).hexdigest()
    signature = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = f"ACS3-HMAC-SHA256 Credential={access_key_id},SignedHeaders={signed},Signature={signature}"
    return headers


def sign_v2_params(method: str, params: dict[str, str], secret: str) -> str:
    string_to_sign = method.upper() + "&" + enc("/") + "&" + enc(canonical_query(params))
    digest = hmac.new((secret + "&").encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def raw_v3(
    server,
    action: str,
    version: str,
    params: dict[str, Any] | None = None,
    *,
    key: tuple[str, str] | None = None,
    method: str = "POST",
    in_body: bool = False,
    date: str | None = None,
    nonce: str | None = None,    authorization: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> requests.Response:
    """A V3-signed request built by hand. ``params`` are flattened; they travel in the query unless ``in_body``;
    ``headers`` are sent beside the signed ones, unsigned."""
    ak, sk = key or server.root_key
    flat = flatten(params)
    query = {} if in_body else flat
    body = urllib.parse.urlencode(sorted(flat.items()), quote_via=urllib.parse.quote).encode() if in_body else b""
    ctype = "application/x-www-form-urlencoded" if in_body else None
    extra = headers or {}
    headers = sign_v3_headers(method, server.host, action, version, query, body, ctype, ak, sk, date=date, nonce=nonce)
    headers.update(extra)
    if authorization is not None:
        headers["Authorization"] = authorization
    qs = "&".join(f"{enc(k)}={enc(v)}" for k, v in query.items())
    url = f"{server.url}/" + (f"?{qs}" if qs else "")
    return requests.request(method, url, headers=headers, data=body if body else None, timeout=timeout)


def raw_v2(
    server,
    action: str,
    version: str,
    params: dict[str, Any] | None = None,
    *,
    key: tuple[str, str] | None = None,
    method: str = "GET",
    nonce: str | None = None,
    timestamp: str | None = None,
    timeout: float = 30,
) -> requests.Response:
    """A V2 (HMAC-SHA1) request built by hand; GET puts everything in the query, POST the business params in a form body."""
    ak, sk = key or server.root_key
    common = {
        "Action": action,
        "Version": version,
        "Format": "JSON",
        "AccessKeyId": ak,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce or new_nonce(),
        "Timestamp": timestamp or utc_stamp(),
    }
    business = flatten(params)
    signature = sign_v2_params(method, {**common, **business}, sk)
    if method.upper() == "GET":
        query = {**common, **business, "Signature": signature}
        body = None
    else:
        query = {**common, "Signature": signature}
        body = urllib.parse.urlencode(sorted(business.items()), quote_via=urllib.parse.quote)
    qs = "&".join(f"{enc(k)}={enc(v)}" for k, v in query.items())
    headers = {"content-type": "application/x-www-form-urlencoded"} if body is not None else {}
    return requests.request(method, f"{server.url}/?{qs}", data=body, headers=headers, timeout=timeout)


def v2_common(action: str, version: str, access_key_id: str, *, nonce: str | None = None,
              timestamp: str | None = None) -> dict[str, str]:
    return {
        "Action": action,
        "Version": version,
        "Format": "JSON",
        "AccessKeyId": access_key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce or new_nonce(),
        "Timestamp": timestamp or utc_stamp(),
    }


def v2_form_body(
    action: str,
    version: str,
    params: dict[str, Any] | None,
    key: tuple[str, str],
    *,
    nonce: str | None = None,
    timestamp: str | None = None,
    extra: dict[str, str] | None = None,
) -> bytes:
    """The body of a V2 POST signed the way ``@alicloud/pop-core`` signs it: common parameters,
    business parameters and ``Signature`` all in the form, sorted, with an empty query."""
    ak, sk = key
    fields = {**v2_common(action, version, ak, nonce=nonce, timestamp=timestamp), **flatten(params),
              **(extra or {})}
    fields["Signature"] = sign_v2_params("POST", fields, sk)
    return canonical_query(fields).encode()


def raw_v2_form(
    server,
    action: str,
    version: str,
    params: dict[str, Any] | None = None,
    *,
    key: tuple[str, str] | None = None,
    nonce: str | None = None,
    timestamp: str | None = None,
    extra: dict[str, str] | None = None,
    timeout: float = 30,
) -> requests.Response:
    """A V2 POST with everything in its form body and an empty query (``@alicloud/pop-core``'s shape,
    ``x-acs-action``/``x-acs-version`` headers included). ``extra`` adds signed common parameters
    (``SecurityToken``)."""
    body = v2_form_body(action, version, params, key or server.root_key, nonce=nonce, timestamp=timestamp,
                        extra=extra)
    headers = {"content-type": FORM, "x-acs-action": action, "x-acs-version": version}
    return requests.post(f"{server.url}/", data=body, headers=headers, timeout=timeout)


# --------------------------------------------------------------------------------------------------
# the Node SDK


def pop_core(server, calls: list[dict], *, key: tuple[str, str] | None = None,
             security_token: str | None = None, timeout: float = 120) -> list[dict]:
    """Runs ``calls`` (``{"version", "action", "params", "method"}``, method POST by default) through
    ``@alicloud/pop-core``'s RPCClient in one Node process; one result per call, as
    ``node/popcore.js`` describes them."""
    modules = NODE_DIR / "node_modules"
    if not (modules / "@alicloud" / "pop-core").is_dir():
        pytest.fail(
            f"@alicloud/pop-core is not installed in {NODE_DIR}: run scripts/test, or "
            f"`mkdir -p {NODE_DIR} && cp tests/e2e/node/package*.json {NODE_DIR} && npm ci --prefix {NODE_DIR}`",
            pytrace=False,
        )
    ak, sk = key or server.root_key
    job = {"endpoint": server.url, "accessKeyId": ak, "accessKeySecret": sk, "calls": calls}
    if security_token is not None:
        job["securityToken"] = security_token
    env = {**os.environ, "NODE_PATH": str(modules)}
    script = Path(__file__).resolve().parent / "node" / "popcore.js"
    done = subprocess.run(["node", str(script)], input=json.dumps(job), capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert done.returncode == 0, f"popcore.js failed ({done.returncode}):\n{done.stderr}"
    results = json.loads(done.stdout)
    assert len(results) == len(calls), results
    return results


# --------------------------------------------------------------------------------------------------
# raw sockets


@dataclass
class WireResponse:
    """One HTTP/1.1 response as it came off a socket."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    raw_head: bytes = field(repr=False, default=b"")

    def json(self) -> dict:
        try:
            body = json.loads(self.body)
        except ValueError:
            pytest.fail(f"HTTP {self.status}: body is not JSON: {self.body[:300]!r} (head {self.raw_head!r})")
        assert isinstance(body, dict), body
        return body


def exchange(port: int, payload: bytes, *, shut_write: bool = False, timeout: float = 10.0,
             sock_setup: Callable[[socket.socket], None] | None = None) -> tuple[bytes, bool]:
    """Sends ``payload`` on a new connection (then half-closes it if ``shut_write``) and reads until
    the server closes. Returns what arrived and whether the server closed within ``timeout``
    (a connection reset counts as closed)."""
    deadline = time.monotonic() + timeout
    got = bytearray()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if sock_setup:
            sock_setup(s)
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        try:
            s.sendall(payload)
            if shut_write:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking everything
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(got), False
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return bytes(got), True
            except (socket.timeout, TimeoutError):
                return bytes(got), False
            if not chunk:
                return bytes(got), True
            got += chunk


def parse_responses(data: bytes) -> list[WireResponse]:
    """Every complete response in ``data`` (bodies framed by Content-Length); fails on anything else."""
    out: list[WireResponse] = []
    rest = data
    while rest:
        end = rest.find(b"\r\n\r\n")
        assert end >= 0, f"incomplete response head: {rest[:300]!r}"
        head, rest = rest[:end], rest[end + 4:]
        lines = head.split(b"\r\n")
        version, _, status_reason = lines[0].partition(b" ")
        assert version == b"HTTP/1.1", f"not an HTTP/1.1 status line: {lines[0]!r}"
        status, _, reason = status_reason.partition(b" ")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            assert sep, f"malformed response header {line!r}"
            headers[name.decode().strip().lower()] = value.decode("latin-1").strip()
        assert "transfer-encoding" not in headers, f"unexpected chunked answer: {head!r}"
        length = int(headers.get("content-length", "0"))
        assert len(rest) >= length, f"truncated body ({len(rest)} of {length} bytes): {head!r}"
        out.append(WireResponse(int(status), reason.decode(), headers, rest[:length], head))
        rest = rest[length:]
    return out


def expect_wire_error(resp: WireResponse, status: int, code: str | None = None) -> dict:
    """``resp`` is the cloud's JSON error body with HTTP ``status`` (and ``code``)."""
    body = resp.json()
    assert resp.status == status, f"expected HTTP {status}, got {resp.status}: {body}"
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    check_error_body(body)
    if code is not None:
        assert body["Code"] == code, f"expected {code}, got {body}"
    return body


def v3_request_bytes(
    server,
    action: str,
    version: str,
    body: bytes = b"",
    *,
    query: dict[str, str] | None = None,
    key: tuple[str, str] | None = None,
    content_type: str | None = FORM,
    date: str | None = None,
    nonce: str | None = None,
    signed_body: bytes | None = None,
    extra_headers: dict[str, str] | None = None,
    content_length: int | None = None,
    send_body: bool = True,
    close: bool = True,
) -> bytes:
    """A V3-signed POST as raw bytes. ``signed_body``: the body whose hash is signed, when it is not
    ``body``; ``content_length``: declared length, when it is not ``len(body)``; ``send_body=False``
    gives the head alone; ``close`` asks the server to close after answering."""
    ak, sk = key or server.root_key
    query = query or {}
    headers = sign_v3_headers("POST", server.host, action, version, query, body if signed_body is None else signed_body,
                              content_type if body or signed_body else None, ak, sk, date=date, nonce=nonce,
                              extra_headers=extra_headers)
    qs = canonical_query(query)
    head = f"POST /{'?' + qs if qs else ''} HTTP/1.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += "connection: close\r\n" if close else ""
    head += f"content-length: {len(body) if content_length is None else content_length}\r\n\r\n"
    return head.encode() + (body if send_body else b"")


# --------------------------------------------------------------------------------------------------
# responses and errors


def json_body(resp: requests.Response) -> dict:
    try:
        body = resp.json()
    except ValueError:
        pytest.fail(f"HTTP {resp.status_code}: body is not JSON: {resp.text[:500]!r}")
    assert isinstance(body, dict), f"JSON body is not an object: {body!r}"
    return body


def check_error_body(body: dict) -> None:
    missing = [f for f in ERROR_FIELDS if not body.get(f)]
    assert not missing, f"error body lacks {missing}: {body}"


def expect_raw_error(resp: requests.Response, code: str, status: int, names: str | None = None) -> dict:
    body = json_body(resp)
    assert body.get("Code") == code, f"expected {code}, got HTTP {resp.status_code} {body}"
    assert resp.status_code == status, f"expected HTTP {status} for {code}, got {resp.status_code}: {body}"
    check_error_body(body)
    if names:
        assert names in body["Message"], f"message should name {names!r}: {body['Message']!r}"
    return body


def expect_ok(resp: requests.Response) -> dict:
    body = json_body(resp)
    assert resp.status_code == 200, f"HTTP {resp.status_code}: {body}"
    assert body.get("RequestId"), f"success without RequestId: {body}"
    return body


def _status_of(exc: Exception) -> int | None:
    for attr in ("status_code", "statusCode"):
        value = getattr(exc, attr, None)
        if value is not None:
            return int(value)
    data = getattr(exc, "data", None)
    if isinstance(data, dict) and data.get("statusCode") is not None:
        return int(data["statusCode"])
    if hasattr(exc, "get_http_status"):
        return exc.get_http_status()
    return None


def _code_of(exc: Exception) -> str | None:
    if hasattr(exc, "get_error_code"):
        return exc.get_error_code()
    return getattr(exc, "code", None)


def _message_of(exc: Exception) -> str:
    if hasattr(exc, "get_error_msg"):
        return exc.get_error_msg() or ""
    data = getattr(exc, "data", None)
    if isinstance(data, dict) and data.get("Message"):
        return str(data["Message"])
    return str(getattr(exc, "message", "") or "")


def expect_error(fn: Callable[[], Any], code: str, status: int | None = None, names: str | None = None) -> Exception:
    """Call ``fn`` (an SDK call) and assert that it fails with ``code`` (and HTTP ``status``).

    ``names``: a string (usually a parameter name) the error message must contain.
    """
    from aliyunsdkcore.acs_exception.exceptions import ClientException as CoreClientException
    from aliyunsdkcore.acs_exception.exceptions import ServerException as CoreServerException
    from Tea.exceptions import TeaException

    try:
        result = fn()
    except (TeaException, CoreClientException, CoreServerException) as exc:
        got_code, got_status, msg = _code_of(exc), _status_of(exc), _message_of(exc)
        assert got_code == code, f"expected {code} ({status}), got {got_code} ({got_status}): {exc}"
        if status is not None:
            assert got_status == status, f"{code}: expected HTTP {status}, got {got_status}: {exc}"
        if names:
            assert names in msg, f"{code} message should name {names!r}: {msg!r}"
        data = getattr(exc, "data", None)
        if isinstance(data, dict):  # the Tea SDKs keep the whole error body
            check_error_body(data)
        return exc
    body = getattr(result, "body", result)
    pytest.fail(f"expected error {code}, call succeeded: {getattr(body, 'to_map', lambda: body)()}")


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------------
# SDK clients


def _config(server, key: tuple[str, str], v2: bool, security_token: str | None = None):
    from alibabacloud_tea_openapi import models as open_api_models

    kwargs = dict(
        access_key_id=key[0],
        access_key_secret=key[1],
        endpoint=f"127.0.0.1:{server.port}",
        protocol="http",
        region_id=REGION,
        read_timeout=30000,
        connect_timeout=5000,
    )
    if v2:
        kwargs["signature_algorithm"] = "v2"
    if security_token is not None:
        kwargs["security_token"] = security_token
    return open_api_models.Config(**kwargs)


def ecd_client(server, key: tuple[str, str] | None = None, v2: bool = False, security_token: str | None = None):
    """The ecd 2020-09-30 SDK; ``security_token`` with an STS key of AssumeRole."""
    from alibabacloud_ecd20200930.client import Client

    return Client(_config(server, key or server.root_key, v2, security_token))


def ram_client(server, key: tuple[str, str] | None = None, v2: bool = False, security_token: str | None = None):
    """The RAM 2015-05-01 SDK (users, access keys, policies, roles)."""
    from alibabacloud_ram20150501.client import Client

    return Client(_config(server, key or server.root_key, v2, security_token))


def sts_client(server, key: tuple[str, str] | None = None, security_token: str | None = None, v2: bool = False):
    """The STS 2015-04-01 SDK (AssumeRole, GetCallerIdentity); ``security_token`` with an STS key."""
    from alibabacloud_sts20150401.client import Client

    return Client(_config(server, key or server.root_key, v2, security_token))


def appstream_client(server, key: tuple[str, str] | None = None, v2: bool = False):
    from alibabacloud_appstream_center20210901.client import Client

    return Client(_config(server, key or server.root_key, v2))


def rm_client(server, key: tuple[str, str] | None = None, v2: bool = False):
    from alibabacloud_resourcemanager20200331.client import Client

    return Client(_config(server, key or server.root_key, v2))


def core_client(server, key: tuple[str, str] | None = None):
    from aliyunsdkcore.client import AcsClient

    ak, sk = key or server.root_key
    return AcsClient(ak, sk, REGION, timeout=30, connect_timeout=5, max_retry_time=0, auto_retry=False)


def core_call(server, action: str, version: str, params: dict[str, Any] | None = None, *, method: str = "GET",
              key: tuple[str, str] | None = None) -> dict:
    """A V2 call through aliyun-python-sdk-core's CommonRequest (what the aliyun CLI does)."""
    from aliyunsdkcore.request import CommonRequest

    req = CommonRequest(domain=f"127.0.0.1:{server.port}", version=version, action_name=action)
    req.set_protocol_type("http")
    req.set_method(method)
    req.set_accept_format("json")
    for k, v in flatten(params).items():
        if method.upper() == "GET":
            req.add_query_param(k, v)
        else:
            req.add_body_params(k, v)
    raw = core_client(server, key).do_action_with_exception(req)
    return json.loads(raw)


# --------------------------------------------------------------------------------------------------
# a tenant's view of the API, through the official SDKs


class Api:
    """One principal's SDK clients with short helpers for the actions under test."""

    def __init__(self, server, key: tuple[str, str], v2: bool = False):
        self.server = server
        self.key = key
        self.ecd = ecd_client(server, key, v2=v2)
        self.appstream = appstream_client(server, key, v2=v2)
        self.rm = rm_client(server, key, v2=v2)

    # ---- ecd 2020-09-30
    def create(self, *, image: str | None = None, bundle: str | None = None, amount: int | None = 1,
               name: str | None = None, users: list[str] | None = None, tags: dict[str, str] | None = None,
               rg: str | None = None, region: str | None = REGION, **extra) -> list[str]:
        body = self.create_raw(image=image, bundle=bundle, amount=amount, name=name, users=users, tags=tags,
                               rg=rg, region=region, **extra).body
        assert body.request_id, body.to_map()
        assert isinstance(body.desktop_id, list) and body.desktop_id, f"CreateDesktops without DesktopId: {body.to_map()}"
        return body.desktop_id

    def create_raw(self, *, image=None, bundle=None, amount=1, name=None, users=None, tags=None, rg=None,
                   region=REGION, **extra):
        from alibabacloud_ecd20200930 import models as m

        req = m.CreateDesktopsRequest(
            region_id=region,
            desktop_attachment=m.CreateDesktopsRequestDesktopAttachment(image_id=image) if image else None,
            bundle_id=bundle,
            amount=amount,
            desktop_name=name,
            end_user_id=users,
            tag=[m.CreateDesktopsRequestTag(key=k, value=v) for k, v in (tags or {}).items()] or None,
            resource_group_id=rg,
            **extra,
        )
        return self.ecd.create_desktops(req)

    def describe(self, **kw) -> dict:
        from alibabacloud_ecd20200930 import models as m

        kw.setdefault("region_id", REGION)
        body = self.ecd.describe_desktops(m.DescribeDesktopsRequest(**kw)).body.to_map()
        assert body.get("RequestId")
        return body

    def desktops(self, **kw) -> list[dict]:
        return self.describe(**kw).get("Desktops") or []

    def desktop(self, desktop_id: str) -> dict:
        found = self.desktops(desktop_id=[desktop_id])
        assert len(found) == 1, f"DescribeDesktops DesktopId={desktop_id}: {found}"
        return found[0]

    def status(self, desktop_id: str) -> str:
        return self.desktop(desktop_id)["DesktopStatus"]

    def _power(self, action: str, ids: list[str], **kw):
        from alibabacloud_ecd20200930 import models as m

        kw.setdefault("region_id", REGION)
        req_cls = {"start": m.StartDesktopsRequest, "stop": m.StopDesktopsRequest,
                   "reboot": m.RebootDesktopsRequest, "delete": m.DeleteDesktopsRequest}[action]
        fn = getattr(self.ecd, f"{action}_desktops")
        body = fn(req_cls(desktop_id=list(ids), **kw)).body.to_map()
        assert body.get("RequestId")
        return body

    def start(self, ids, **kw):
        return self._power("start", ids, **kw)

    def stop(self, ids, **kw):
        return self._power("stop", ids, **kw)

    def reboot(self, ids, **kw):
        return self._power("reboot", ids, **kw)

    def delete(self, ids, **kw):
        return self._power("delete", ids, **kw)

    def create_office_site(self, name: str | None = None, *, region: str | None = REGION, **kw) -> str:
        """A new convenience-account office site; returns its id."""
        from alibabacloud_ecd20200930 import models as m

        req = m.CreateSimpleOfficeSiteRequest(region_id=region, office_site_name=name, **kw)
        body = self.ecd.create_simple_office_site(req).body.to_map()
        assert body.get("RequestId") and body.get("OfficeSiteId"), body
        return body["OfficeSiteId"]

    def office_sites_page(self, **kw) -> dict:
        from alibabacloud_ecd20200930 import models as m

        kw.setdefault("region_id", REGION)
        body = self.ecd.describe_office_sites(m.DescribeOfficeSitesRequest(**kw)).body.to_map()
        assert body.get("RequestId")
        return body

    def office_sites(self, **kw) -> list[dict]:
        """Every page of DescribeOfficeSites."""
        out: list[dict] = []
        token = None
        for _ in range(100):
            body = self.office_sites_page(max_results=100, next_token=token, **kw)
            out.extend(body.get("OfficeSites") or [])
            token = body.get("NextToken")
            if not token:
                return out
        pytest.fail("DescribeOfficeSites paging did not end")

    def office_site(self, site_id: str, **kw) -> dict:
        found = self.office_sites(office_site_id=[site_id], **kw)
        assert len(found) == 1, f"DescribeOfficeSites OfficeSiteId={site_id}: {found}"
        return found[0]

    def delete_office_sites(self, ids: list[str], region: str | None = REGION) -> dict:
        from alibabacloud_ecd20200930 import models as m

        body = self.ecd.delete_office_sites(
            m.DeleteOfficeSitesRequest(region_id=region, office_site_id=list(ids))).body.to_map()
        assert body.get("RequestId")
        return body

    def bundles_page(self, **kw) -> dict:
        from alibabacloud_ecd20200930 import models as m

        kw.setdefault("region_id", REGION)
        body = self.ecd.describe_bundles(m.DescribeBundlesRequest(**kw)).body.to_map()
        assert body.get("RequestId")
        return body

    def bundles(self, **kw) -> list[dict]:
        kw.setdefault("max_results", 100)
        return self.bundles_page(**kw).get("Bundles") or []

    def images_page(self, **kw) -> dict:
        from alibabacloud_ecd20200930 import models as m

        kw.setdefault("region_id", REGION)
        body = self.ecd.describe_images(m.DescribeImagesRequest(**kw)).body.to_map()
        assert body.get("RequestId")
        return body

    def images(self, **kw) -> list[dict]:
        kw.setdefault("max_results", 100)
        return self.images_page(**kw).get("Images") or []

    def regions(self, **kw) -> list[dict]:
        from alibabacloud_ecd20200930 import models as m

        kw.setdefault("region_id", REGION)
        body = self.ecd.describe_regions(m.DescribeRegionsRequest(**kw)).body.to_map()
        assert body.get("RequestId")
        return body.get("Regions") or []

    # ---- resourcemanager 2020-03-31
    def create_group(self, name: str | None = None, display_name: str | None = None, **kw) -> str:
        """A new resource group; returns its id."""
        from alibabacloud_resourcemanager20200331 import models as r

        name = name or f"g-{uuid.uuid4().hex[:12]}"
        body = self.rm.create_resource_group(
            r.CreateResourceGroupRequest(name=name, display_name=display_name or name, **kw)).body.to_map()
        assert body.get("RequestId") and body["ResourceGroup"]["Id"].startswith("rg-"), body
        return body["ResourceGroup"]["Id"]

    # ---- appstream-center 2021-09-01
    def runtimes_page(self, **kw) -> dict:
        from alibabacloud_appstream_center20210901 import models as a

        body = self.appstream.list_desktop_agent_runtime(a.ListDesktopAgentRuntimeRequest(**kw)).body.to_map()
        assert body.get("RequestId")
        return body

    def runtimes(self, **kw) -> list[dict]:
        """All pages of ListDesktopAgentRuntime (AgentProvider defaults to OpenClaw)."""
        kw.setdefault("agent_provider", "OpenClaw")
        kw.setdefault("page_size", 100)
        out: list[dict] = []
        for page in range(1, 50):
            body = self.runtimes_page(page_number=page, **kw)
            data = body.get("Data") or []
            out.extend(data)
            if len(data) < kw["page_size"]:
                break
        return out

    def runtime_ids(self, **kw) -> set[str]:
        return {r["DesktopId"] for r in self.runtimes(**kw)}


def ids_of(items: Iterable[dict], field: str = "DesktopId") -> list[str]:
    return [i[field] for i in items]
