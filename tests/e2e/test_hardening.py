"""Issue 11: the server under attack and under slow clients. V2 signed in a form body (the Node SDK),
the HTTP stack's timeouts and bounds, bodiless protocol errors, the replay window, security tokens,
and arbitrary bytes on raw sockets.

Servers started here use small timeouts (seconds) so that every case ends quickly; waiting is
bounded by deadlines well above those timeouts, never asserted as a speed.
"""

from __future__ import annotations

import json
import os
import random
import select
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from amc_e2e import (
    BUNDLE_OPENCLAW,
    FORM,
    REGION,
    V_APPSTREAM,
    V_ECD,
    canonical_query,
    ecd_client,
    exchange,
    expect_error,
    expect_ok,
    expect_raw_error,
    expect_wire_error,
    json_body,
    new_nonce,
    parse_responses,
    pop_core,
    rm_client,
    raw_v2,
    raw_v2_form,
    raw_v3,
    utc_stamp,
    v2_form_body,
    v3_request_bytes,
)

REPO = Path(__file__).resolve().parents[2]
V_RM = "2020-03-31"
# The resourcemanager actions amc serves (docs/compatibility.md); the others come from spec/spec.json.
RM_ACTIONS = ("CreateResourceGroup", "GetResourceGroup", "ListResourceGroups", "DeleteResourceGroup",
              "MoveResources")
# What a request refused before its action runs answers: none of these may come back for a
# correctly signed request.
AUTH_CODES = {"IncompleteSignature", "SignatureDoesNotMatch", "InvalidAccessKeyId.NotFound",
              "InvalidTimeStamp.Expired", "InvalidTimeStamp.Format", "SignatureNonceUsed",
              "InvalidSecurityToken.MismatchWithAccessKey"}

HEADER_TIMEOUT = 1
BODY_TIMEOUT = 1
WRITE_TIMEOUT = 1
TIGHT = ("--header-timeout-secs", str(HEADER_TIMEOUT), "--body-timeout-secs", str(BODY_TIMEOUT),
         "--write-timeout-secs", str(WRITE_TIMEOUT))
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def tight(_session_factory):
    """A server of this module with timeouts of a second or two."""
    return _session_factory(args=TIGHT)


@pytest.fixture(scope="module")
def one_place(_session_factory, tight):
    """A server with room for one connection and a write timeout of a second; its body timeout is
    longer than the second a connection arriving to a full server waits for room. (Servers of this
    module share one database on PostgreSQL.)"""
    return _session_factory.sibling(tight, args=("--max-connections", "1", "--write-timeout-secs",
                                                 str(WRITE_TIMEOUT), "--body-timeout-secs", "3",
                                                 "--header-timeout-secs", "60"))


def _describe():
    from alibabacloud_ecd20200930 import models as m

    return m.DescribeDesktopsRequest(region_id=REGION)


def _sdk_call_works(srv) -> None:
    body = ecd_client(srv).describe_desktops(_describe()).body.to_map()
    assert body.get("RequestId"), body


def _spec_actions() -> list[tuple[str, str]]:
    spec = json.loads((REPO / "spec" / "spec.json").read_text())
    return [(a["version"], a["action"]) for a in spec["actions"]] + [(V_RM, a) for a in RM_ACTIONS]


def _v2_form_head(length: int, extra: str = "") -> bytes:
    """The head of a POST that, like @alicloud/pop-core's, carries everything in its form body."""
    return (f"POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: {FORM}\r\nx-acs-action: DescribeDesktops\r\n"
            f"x-acs-version: {V_ECD}\r\n{extra}content-length: {length}\r\n\r\n").encode()


def _answer(data: bytes):
    responses = parse_responses(data)
    assert len(responses) == 1, responses
    return responses[0]


# ==================================================================================================
# 1. V2 with everything in the form body


def test_pop_core_post_reaches_every_action(server):
    """@alicloud/pop-core with method POST (common parameters and Signature in the form body, empty
    query) gets through authentication on every action: each answers exactly what the same call
    signed V3 answers."""
    info = server.create_tenant()
    key = (info["AccessKeyId"], info["AccessKeySecret"])
    actions = _spec_actions()
    results = pop_core(server, [{"version": v, "action": a} for v, a in actions], key=key)
    mismatches = []
    for (version, action), node in zip(actions, results):
        v3 = json_body(raw_v3(server, action, version, {}, key=key, in_body=True))
        node_code = None if node["ok"] else node["code"]
        assert node_code not in AUTH_CODES, (action, node)
        if node_code != v3.get("Code"):
            mismatches.append((version, action, node_code, v3.get("Code")))
        if not node["ok"]:
            assert node["status"] and node["status"] >= 400, (action, node)
    assert not mismatches, f"pop-core POST and V3 answer differently: {mismatches}"


def test_pop_core_post_calls_with_parameters(server):
    """Business parameters in the form body, lists included, arrive as the SDKs send them."""
    info = server.create_tenant()
    key = (info["AccessKeyId"], info["AccessKeySecret"])
    name = f"node-{new_nonce()[:8]}"
    created = pop_core(server, [{
        "version": V_ECD, "action": "CreateDesktops",
        "params": {"RegionId": REGION, "BundleId": BUNDLE_OPENCLAW, "Amount": 2, "DesktopName": name,
                   "Tag": [{"Key": "team", "Value": "node"}]},
    }], key=key)[0]
    assert created["ok"], created
    ids = created["body"]["DesktopId"]
    assert len(ids) == 2, created
    results = pop_core(server, [
        {"version": V_ECD, "action": "DescribeDesktops", "params": {"RegionId": REGION, "DesktopId": ids}},
        {"version": V_APPSTREAM, "action": "ListDesktopAgentRuntime",
         "params": {"AgentProvider": "OpenClaw", "DesktopIds": ids}},
        {"version": V_ECD, "action": "DescribeDesktops", "params": {"RegionId": REGION, "DesktopId": ids},
         "method": "GET"},
        {"version": V_RM, "action": "CreateResourceGroup", "params": {"Name": name, "DisplayName": name}},
        {"version": V_ECD, "action": "DescribeDesktops", "params": {"RegionId": REGION},
         "accessKeySecret": "not-the-secret-000000000000000"},
    ], key=key)
    wrong = results.pop()
    assert (wrong["ok"], wrong["code"], wrong["status"]) == (False, "SignatureDoesNotMatch", 400), wrong
    assert "server string to sign is:POST&%2F&" in wrong["message"], wrong
    assert all(r["ok"] for r in results), results
    described, runtimes, described_get, group = (r["body"] for r in results)
    assert sorted(d["DesktopId"] for d in described["Desktops"]) == sorted(ids), described
    assert all({"Key": "team", "Value": "node"} in d["Tags"] for d in described["Desktops"]), described
    assert sorted(r["DesktopId"] for r in runtimes["Data"]) == sorted(ids), runtimes
    assert described_get["TotalCount"] == described["TotalCount"] == 2
    # the official Python SDK sees the same store
    from alibabacloud_resourcemanager20200331 import models as r

    rm = rm_client(server, key)
    got = rm.get_resource_group(r.GetResourceGroupRequest(resource_group_id=group["ResourceGroup"]["Id"]))
    assert got.body.resource_group.name == name


def test_v2_form_body_hand_signed(server):
    info = server.create_tenant()
    key = (info["AccessKeyId"], info["AccessKeySecret"])
    created = expect_ok(raw_v2_form(server, "CreateDesktops", V_ECD,
                                    {"RegionId": REGION, "BundleId": BUNDLE_OPENCLAW, "Amount": 2}, key=key))
    ids = created["DesktopId"]
    listed = expect_ok(raw_v2_form(server, "DescribeDesktops", V_ECD, {"RegionId": REGION, "DesktopId": ids},
                                   key=key))
    assert sorted(d["DesktopId"] for d in listed["Desktops"]) == sorted(ids)
    expect_ok(raw_v2_form(server, "StopDesktops", V_ECD, {"RegionId": REGION, "DesktopId": ids[:1]}, key=key))
    runtimes = expect_ok(raw_v2_form(server, "ListDesktopAgentRuntime", V_APPSTREAM,
                                     {"AgentProvider": "OpenClaw", "DesktopIds": ids}, key=key))
    assert sorted(r["DesktopId"] for r in runtimes["Data"]) == sorted(ids)
    # without the x-acs-* headers, the form alone says everything
    body = v2_form_body("DescribeDesktops", V_ECD, {"RegionId": REGION}, key)
    expect_ok(requests.post(f"{server.url}/", data=body, headers={"content-type": FORM}, timeout=30))

    nonce = new_nonce()
    expect_ok(raw_v2_form(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=key, nonce=nonce))
    expect_raw_error(raw_v2_form(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=key, nonce=nonce),
                     "SignatureNonceUsed", 400)
    expect_raw_error(raw_v2_form(server, "DescribeDesktops", V_ECD, {"RegionId": REGION},
                                 key=("LTAInosuchkey00000000", "x")), "InvalidAccessKeyId.NotFound", 404)
    expect_raw_error(raw_v2_form(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=key,
                                 timestamp=utc_stamp(-16 * 60)), "InvalidTimeStamp.Expired", 400)
    tampered = v2_form_body("DescribeDesktops", V_ECD, {"RegionId": REGION}, key).replace(
        b"RegionId=cn-hangzhou", b"RegionId=cn-shanghai")
    resp = requests.post(f"{server.url}/", data=tampered, headers={"content-type": FORM}, timeout=30)
    expect_raw_error(resp, "SignatureDoesNotMatch", 400)


# ==================================================================================================
# 2. timeouts and unbounded buffering


def _trickle_head(port: int) -> None:
    head = b"GET /healthz HTTP/1.1\r\nhost: a\r\nx-padding: " + b"p" * 400 + b"\r\n\r\n"
    deadline = time.monotonic() + HEADER_TIMEOUT + 8
    cut = False
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for i, byte in enumerate(head):
            try:
                s.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                cut = True
                break
            readable, _, _ = select.select([s], [], [], 0.05)
            if readable:
                try:
                    cut = s.recv(4096) == b""
                except ConnectionResetError:
                    cut = True
                if cut:
                    break
            if time.monotonic() > deadline:
                break
    assert cut, "a head trickled a byte at a time kept its connection past the header timeout"
    assert i < len(head) - 1, "the whole head got through"


def _trickle_body(srv) -> None:
    body = b"RegionId=" + b"x" * 400
    request = v3_request_bytes(srv, "DescribeDesktops", V_ECD, body)
    head, _, _ = request.partition(b"\r\n\r\n")
    deadline = time.monotonic() + BODY_TIMEOUT + 8
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(head + b"\r\n\r\n")
        for byte in body:
            try:
                s.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            readable, _, _ = select.select([s], [], [], 0.05)
            if readable:
                break
            assert time.monotonic() < deadline, "a trickled body was still being read past the body timeout"
        got = _read_all(s)
    expect_wire_error(_answer(got), 408, "RequestTimeout")


def _idle(port: int, payload: bytes) -> None:
    data, closed = exchange(port, payload, timeout=HEADER_TIMEOUT + 8)
    assert closed, f"an idle connection (after {payload!r}) was still open well after the header timeout"
    assert [r.status for r in parse_responses(data)] == ([200] if payload else []), data


def test_slow_clients_are_cut(tight):
    """Each at once: a new connection that sends nothing and a keep-alive connection after its
    answer are closed after the header timeout, a head sent a byte at a time is cut at the header
    timeout, and a body trickled a byte at a time is answered 408 at the body timeout."""
    cases = [
        lambda: _idle(tight.port, b""),
        lambda: _idle(tight.port, b"GET /healthz HTTP/1.1\r\nhost: a\r\n\r\n"),
        lambda: _trickle_head(tight.port),
        lambda: _trickle_body(tight),
    ]
    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        for outcome in [pool.submit(case) for case in cases]:
            outcome.result()


def test_idle_sockets_under_a_low_fd_limit_do_not_starve_clients(server_factory, tight):
    """With RLIMIT_NOFILE at 256 and more idle (or half-sent) connections than the server has room
    for, a real client still gets served: the connection idle longest gives its place up. (Issue
    11: idle connections held every place, and real clients got 503 until the header timeout.)"""
    srv = server_factory.sibling(tight, args=("--header-timeout-secs", "60"), nofile=256)
    held = []
    try:
        for i in range(300):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            if i % 2:
                s.sendall(b"GET /healthz HTTP/1.1\r\nhost: a\r\nx-slow: ")  # never finished
            held.append(s)
        _sdk_call_works(srv)
        _sdk_call_works(srv)
        assert srv.alive(), srv.log_tail()
        # the first of them, idle longest, were closed without an answer to make that room
        first = held[0]
        first.settimeout(10)
        try:
            assert first.recv(100) == b"", "an idle connection was answered instead of closed"
        except ConnectionResetError:
            pass
    finally:
        for s in held:
            s.close()


def _send_big(port: int, head: bytes, size: int, chunk: bytes) -> bytes:
    """Sends ``head`` and then up to ``size`` body bytes until the server stops taking them; returns
    what it answered (empty when the connection was reset)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        try:
            s.sendall(head)
            sent = 0
            while sent < size:
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        got = b""
        try:
            while True:
                part = s.recv(65536)
                if not part:
                    break
                got += part
        except (ConnectionResetError, TimeoutError, socket.timeout):
            pass
        return got


def test_unauthenticated_bodies_are_refused_before_they_are_buffered(tight):
    """100 connections each send an 8 MB body nobody may send: unsigned (pop-core's form shape without
    a signature), signed by an unknown key, or V3 signed wrongly. Each is refused from its head (or,
    for a form-body signature, from the first bytes that name the key), so the server's memory stays
    far below what buffering them would take (the body budget is 256 MiB). Heads larger than the
    head limit are refused too, not held. (Issue 11: a form body was buffered whole before anyone
    knew who sent it, and hyper held heads of up to ~400 KiB per connection.)"""
    srv = tight
    size = 8_000_000
    ak = srv.root_key[0]
    unsigned = _v2_form_head(size)
    unknown_form_prefix = b"AccessKeyId=LTAInosuchkey00000000&Action=DescribeDesktops&"
    v3_wrong = v3_request_bytes(srv, "DescribeDesktops", V_ECD, b"", key=(ak, "not-the-secret"),
                                signed_body=b"x" * 16, content_length=size, send_body=False)
    v3_unknown = v3_request_bytes(srv, "DescribeDesktops", V_ECD, b"", key=("LTAInosuchkey0000000", "x"),
                                  signed_body=b"x" * 16, content_length=size, send_body=False)
    kinds = {
        "unsigned form": (unsigned, b"", 400, "IncompleteSignature"),
        "form, unknown key": (_v2_form_head(size), unknown_form_prefix, 404, "InvalidAccessKeyId.NotFound"),
        "v3, wrong secret": (v3_wrong, b"", 400, "SignatureDoesNotMatch"),
        "v3, unknown key": (v3_unknown, b"", 404, "InvalidAccessKeyId.NotFound"),
    }
    # Each is answered without the rest of its body: the answer arrives while the client still
    # holds back almost all of it.
    for name, (head, prefix, status, code) in kinds.items():
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(head + prefix + b"A" * (20_000 if not prefix else 0))
            s.settimeout(5)
            try:
                got = _read_all(s)
            except (TimeoutError, socket.timeout):
                pytest.fail(f"{name}: no answer before the rest of the body arrived")
        expect_wire_error(_answer(got), status, code)

    before = srv.rss_kib()
    # Heads that never end are refused once they pass the head limit, not held until the
    # header timeout.
    heads = []
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\nhost: a\r\nx-big: " + b"h" * 300_000)
        heads.append(s)
    for s in heads:
        with s:
            s.settimeout(5)
            try:
                expect_wire_error(_answer(_read_all(s)), 431, "RequestHeaderFieldsTooLarge")
            except (TimeoutError, socket.timeout):
                pytest.fail("a head over the limit was held instead of refused")
    chunk = b"A" * 65536
    jobs = []
    for i in range(100):
        head, prefix, _, _ = list(kinds.values())[i % len(kinds)]
        jobs.append((head + prefix, size - len(prefix)))
    with ThreadPoolExecutor(max_workers=100) as pool:
        answers = list(pool.map(lambda job: _send_big(srv.port, job[0], job[1], chunk), jobs))
    after = srv.rss_kib()
    assert srv.alive(), srv.log_tail()
    grown_mib = (after - before) / 1024
    print(f"RSS before {before} KiB, after 50 oversized heads and 100 refused 8 MB bodies {after} KiB "
          f"({grown_mib:+.1f} MiB)")
    assert grown_mib < 64, f"RSS grew by {grown_mib:.0f} MiB ({before} -> {after} KiB) for refused requests"
    for data in answers:
        if data:  # a reset may overtake the answer; an answer that came must be the JSON error
            response = parse_responses(data)[0]
            assert response.status in (400, 404), response
            expect_wire_error(response, response.status)
    _sdk_call_works(srv)


def test_wrong_v2_signature_over_a_large_body_answers_briefly(server):
    """Issue 11: a V2 SignatureDoesNotMatch quotes the server's string to sign (aliyun-python-sdk-core
    reads it), and over a large form body that made an 8 MB request answer 13.5 MB (and build it
    several times over). The quote is cut short; the start the SDKs compare is kept."""
    key = (server.root_key[0], "not-the-secret-000000000000000")
    body = v2_form_body("DescribeDesktops", V_ECD, {"RegionId": REGION, "Zpad": "\x00" * 2_000_000}, key)
    resp = requests.post(f"{server.url}/", data=body, headers={"content-type": FORM}, timeout=60)
    error = expect_raw_error(resp, "SignatureDoesNotMatch", 400)
    assert "server string to sign is:POST&%2F&AccessKeyId%3D" in error["Message"], error["Message"][:300]
    assert len(resp.content) < 64 * 1024, f"a {len(body)} byte request answered {len(resp.content)} bytes"


def test_body_that_does_not_match_its_signed_hash_is_refused(server):
    signed = b"RegionId=cn-hangzhou"
    sent = b"RegionId=cn-shanghai"
    nonce = new_nonce()
    request = v3_request_bytes(server, "DescribeDesktops", V_ECD, sent, signed_body=signed, nonce=nonce)
    data, _ = exchange(server.port, request, timeout=10)
    expect_wire_error(_answer(data), 400, "SignatureDoesNotMatch")
    # a refused request does not use up its nonce
    data, _ = exchange(server.port, v3_request_bytes(server, "DescribeDesktops", V_ECD, signed, nonce=nonce),
                       timeout=10)
    assert _answer(data).status == 200, data[:500]


def test_client_that_never_reads_is_dropped(_session_factory, tight):
    """A client that pipelines requests for large pages and never reads the answers holds its
    connection only until the write timeout; with room for one connection, the next client is
    served once it is dropped. (The write timeout is longer here than the second a newcomer waits
    for room, so the newcomer is seen refused first.)"""
    srv = _session_factory.sibling(tight, args=("--max-connections", "1", "--write-timeout-secs", "4",
                                                "--header-timeout-secs", "60"))
    body = expect_ok(raw_v3(srv, "CreateDesktops", V_ECD,
                            {"RegionId": REGION, "BundleId": BUNDLE_OPENCLAW, "Amount": 100}))
    assert len(body["DesktopId"]) == 100
    page = {"RegionId": REGION, "MaxResults": "100"}
    requests_ = b"".join(v3_request_bytes(srv, "DescribeDesktops", V_ECD, b"", query=page, close=False)
                         for _ in range(60))
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", srv.port))
    try:
        stalled.sendall(requests_)
        time.sleep(0.5)  # its first request is being served
        probe = b"GET /healthz HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n"
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            data, _ = exchange(srv.port, probe, timeout=10)
            status = _answer(data).status if data else None
            seen.append(status)
            if status == 200:
                break
            if status is not None:
                expect_wire_error(_answer(data), 503, "ServiceUnavailable")
            time.sleep(0.25)
        assert seen[-1] == 200, f"the connection that stopped reading was never dropped: {seen[-5:]}"
        assert 503 in seen, f"the stalled connection never held its place: {seen}"
    finally:
        stalled.close()


def test_shutdown_does_not_wait_for_idle_connections(server_factory, tight):
    """SIGTERM ends the server at once when its connections are only idle ones: new, between
    keep-alive requests, or halfway through sending a head (the shutdown grace is for requests).
    (Issue 11: a half-sent first head kept shutdown waiting for the whole grace period.)"""
    srv = server_factory.sibling(tight, args=("--header-timeout-secs", "60"))
    held = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(3)]
    try:
        held[1].sendall(b"GET /healthz HTTP/1.1\r\nhost: a\r\nx-slow: ")
        held[2].sendall(b"GET /healthz HTTP/1.1\r\nhost: a\r\n\r\n")
        assert held[2].recv(4096).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        code = srv.stop(timeout=30)
        waited = time.monotonic() - started
        assert code == 0, srv.log_tail()
        assert waited < 5, f"shutdown waited {waited:.1f}s for idle connections"
    finally:
        for s in held:
            s.close()


# ==================================================================================================
# 3. bodiless protocol errors, answered with the cloud's JSON error body


def test_protocol_errors_answer_json(tight):
    def ask(payload: bytes, **kw):
        data, closed = exchange(tight.port, payload, timeout=10, **kw)
        assert closed, f"no end to the answer of {payload[:80]!r}"
        return _answer(data)

    def headers(n: int) -> bytes:
        return b"".join(b"x-h%d: v\r\n" % i for i in range(n))

    # at most 100 headers; 101 is too many
    ok = ask(b"GET /healthz HTTP/1.1\r\nhost: a\r\nconnection: close\r\n" + headers(98) + b"\r\n")
    assert ok.status == 200, ok
    expect_wire_error(ask(b"GET /healthz HTTP/1.1\r\nhost: a\r\nconnection: close\r\n" + headers(99) + b"\r\n"),
                      431, "RequestHeaderFieldsTooLarge")
    # a head up to 80 KiB; a larger one is refused as soon as that much has come (issue 11)
    ok = ask(b"GET /healthz HTTP/1.1\r\nhost: a\r\nconnection: close\r\nx-big: " + b"b" * 70_000 + b"\r\n\r\n")
    assert ok.status == 200, ok
    expect_wire_error(ask(b"GET /healthz HTTP/1.1\r\nhost: a\r\nx-big: " + b"b" * 90_000), 431,
                      "RequestHeaderFieldsTooLarge")
    # a URI up to 64 KiB
    ok = ask(b"GET /healthz?" + b"q" * 65000 + b" HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
    assert ok.status == 200, ok
    expect_wire_error(ask(b"GET /?" + b"q" * (64 * 1024) + b" HTTP/1.1\r\nhost: a\r\n\r\n"), 414, "UriTooLong")
    # malformed request line, header, Content-Length
    for payload in (b"GET\r\n\r\n", b"GET / HTTP/1.1 extra\r\nhost: a\r\n\r\n", b"\x16\x03\x01\x00\xa5\x01\x00\r\n\r\n",
                    b"GET / HTTP/1.1\r\nhost: a\r\nno colon here\r\n\r\n",
                    b"GET / HTTP/1.1\r\nhost : a\r\n\r\n",
                    b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: abc\r\n\r\n",
                    b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: -1\r\n\r\n",
                    b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd",
                    b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 99999999999999999999999\r\n\r\n"):
        expect_wire_error(ask(payload), 400, "MalformedRequest")
    # a method a path does not take (issue 11, found by the fuzz test below: axum's own 405 had
    # no body)
    resp = ask(b"POST /healthz HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
    expect_wire_error(resp, 405, "UnsupportedHTTPMethod")
    assert "GET" in resp.headers.get("allow", ""), resp.headers
    # a body over 8 MiB, from a caller who may send one: refused from its Content-Length
    big = 8 * MIB + 1
    head = v3_request_bytes(tight, "DescribeDesktops", V_ECD, b"", signed_body=b"A" * big, content_length=big,
                            send_body=False)
    expect_wire_error(ask(head), 413, "RequestEntityTooLarge")


def test_no_room_for_another_connection_answers_503(one_place):
    """A connection busy reading its body fills a server with room for one: the next is answered
    503 with the JSON error body, and served once the body has timed out."""
    srv = one_place
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as busy:
        # a request that is served, then one whose body never comes
        busy.sendall(b"GET /healthz HTTP/1.1\r\nhost: a\r\n\r\n"
                     + v3_request_bytes(srv, "DescribeDesktops", V_ECD, b"RegionId=cn-hangzhou", send_body=False,
                                        close=False))
        busy.settimeout(10)
        assert busy.recv(4096).startswith(b"HTTP/1.1 200"), "healthz on the busy connection"
        time.sleep(0.2)
        data, closed = exchange(srv.port, b"GET /healthz HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
                                timeout=10)
        assert closed
        expect_wire_error(_answer(data), 503, "ServiceUnavailable")
        # its body times out, and the room is there again
        expect_wire_error(_answer(_read_all(busy)), 408, "RequestTimeout")
    _sdk_call_works(srv)


def _read_all(s: socket.socket) -> bytes:
    got = b""
    try:
        while True:
            part = s.recv(65536)
            if not part:
                break
            got += part
            if b"\r\n\r\n" in got:
                head, _, rest = got.partition(b"\r\n\r\n")
                length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length and len(rest) >= length[0]:
                    break
    except ConnectionResetError:
        pass
    return got


# ==================================================================================================
# 4. the replay window


def test_timestamp_window_is_15_minutes_either_way(server):
    window = 15 * 60
    for offset, accepted in ((-window + 20, True), (-window - 20, False), (window - 20, True), (window + 20, False)):
        resp = raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, date=utc_stamp(offset))
        if accepted:
            expect_ok(resp)
        else:
            expect_raw_error(resp, "InvalidTimeStamp.Expired", 400)
        resp = raw_v2(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, timestamp=utc_stamp(offset))
        if accepted:
            expect_ok(resp)
        else:
            expect_raw_error(resp, "InvalidTimeStamp.Expired", 400)


def test_nonce_is_refused_across_a_restart(server_factory, tight):
    srv = server_factory.sibling(tight)
    old, future = new_nonce(), new_nonce()
    # timestamps near both ends of the window: the nonce is kept for as long as each is accepted
    old_date, future_date = utc_stamp(-14 * 60), utc_stamp(14 * 60)
    expect_ok(raw_v3(srv, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=old, date=old_date))
    expect_ok(raw_v3(srv, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=future, date=future_date))
    v2_nonce = new_nonce()
    expect_ok(raw_v2_form(srv, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=v2_nonce))
    srv.restart()
    for nonce, date in ((old, old_date), (future, future_date)):
        expect_raw_error(raw_v3(srv, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=nonce, date=date),
                         "SignatureNonceUsed", 400)
    expect_raw_error(raw_v2_form(srv, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=v2_nonce),
                     "SignatureNonceUsed", 400)


def test_nonce_is_refused_by_another_replica(tight, replica_of):
    first, second = tight, replica_of(tight)
    for signer, replay in ((first, second), (second, first)):
        nonce, date = new_nonce(), utc_stamp(-14 * 60)
        expect_ok(raw_v3(signer, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=nonce, date=date))
        expect_raw_error(raw_v3(replay, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=nonce, date=date),
                         "SignatureNonceUsed", 400)
        v2_nonce = new_nonce()
        expect_ok(raw_v2(signer, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=v2_nonce))
        expect_raw_error(raw_v2(replay, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=v2_nonce),
                         "SignatureNonceUsed", 400)
    # a nonce is per access key: another tenant may use the same one
    info = first.create_tenant()
    nonce = new_nonce()
    expect_ok(raw_v3(first, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=nonce))
    expect_ok(raw_v3(second, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=nonce,
                     key=(info["AccessKeyId"], info["AccessKeySecret"])))


# ==================================================================================================
# 5. security tokens with long-term keys


def test_bogus_security_token_is_refused(server):
    from alibabacloud_ecd20200930.client import Client
    from alibabacloud_tea_openapi import models as open_api_models

    code, status = "InvalidSecurityToken.MismatchWithAccessKey", 400
    for v2 in (False, True):
        kwargs = dict(access_key_id=server.root_key[0], access_key_secret=server.root_key[1],
                      security_token="bogus-sts-token", endpoint=server.host, protocol="http", region_id=REGION)
        if v2:
            kwargs["signature_algorithm"] = "v2"
        client = Client(open_api_models.Config(**kwargs))
        expect_error(lambda client=client: client.describe_desktops(_describe()), code, status)
    node = pop_core(server, [{"version": V_ECD, "action": "DescribeDesktops", "params": {"RegionId": REGION}}],
                    security_token="bogus-sts-token")[0]
    assert (node["ok"], node["code"], node["status"]) == (False, code, status), node
    expect_raw_error(raw_v2_form(server, "DescribeDesktops", V_ECD, {"RegionId": REGION},
                                 extra={"SecurityToken": "bogus"}), code, status)
    # V3 by hand: the token is a signed header; refusing it does not use up the nonce
    nonce = new_nonce()
    request = v3_request_bytes(server, "DescribeDesktops", V_ECD, b"", query={"RegionId": REGION}, nonce=nonce,
                               extra_headers={"x-acs-security-token": "bogus"})
    data, _ = exchange(server.port, request, timeout=10)
    expect_wire_error(_answer(data), status, code)
    expect_ok(raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=nonce))


# ==================================================================================================
# arbitrary bytes


def _templates(srv) -> list[bytes]:
    v2 = v2_form_body("DescribeDesktops", V_ECD, {"RegionId": REGION}, srv.root_key)
    return [
        b"GET /healthz HTTP/1.1\r\nhost: a\r\n\r\n",
        v3_request_bytes(srv, "DescribeDesktops", V_ECD, b"RegionId=cn-hangzhou"),
        _v2_form_head(len(v2)) + v2,
        b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\ncontent-type: " + FORM.encode()
        + b"\r\n\r\n5\r\nRegio\r\n0\r\n\r\n",
        b"GET /?" + canonical_query({"Action": "DescribeDesktops", "Version": V_ECD, "Signature": "x"}).encode()
        + b" HTTP/1.1\r\nhost: a\r\n\r\n",
    ]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(7)
        at = rng.randrange(len(out) + 1) if out else 0
        if op == 0 and out:  # flip a byte
            out[min(at, len(out) - 1)] = rng.randrange(256)
        elif op == 1:  # insert random bytes
            out[at:at] = os.urandom(rng.randint(1, 16))
        elif op == 2 and out:  # delete a range
            del out[at:at + rng.randint(1, 32)]
        elif op == 3:  # truncate
            del out[at:]
        elif op == 4:  # an odd header
            value = rng.choice([b"-1", b"99999999999999999999", b"0x10", b" 5", b"chunked", b"\x00\xff", b"100-continue"])
            name = rng.choice([b"content-length", b"transfer-encoding", b"expect", b"host", b"x-acs-date"])
            out[at:at] = b"\r\n" + name + b": " + value + b"\r\n"
        elif op == 5:  # line endings
            out = bytearray(bytes(out).replace(b"\r\n", rng.choice([b"\n", b"\r", b"\r\r\n", b"\n\r"]), 1))
        else:  # repeat a piece
            out[at:at] = out[at:at + rng.randint(1, 64)] * rng.randint(2, 50)
    return bytes(out)


def test_arbitrary_bytes_get_json_or_a_close(tight):
    """Random bytes and mutated requests on raw sockets: each connection gets HTTP answers with JSON
    bodies, or is closed; none hangs past the timeouts, and the server keeps serving."""
    seed = int(os.environ.get("AMC_E2E_FUZZ_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    templates = _templates(tight)
    cases = []
    for i in range(160):
        if i % 4 == 0:
            payload = bytes(rng.randrange(256) for _ in range(rng.randint(1, 2048)))
        else:
            payload = _mutate(rng, rng.choice(templates))
        if payload.lstrip().upper().startswith(b"HEAD"):
            continue  # answers to HEAD have no body to check
        cases.append((payload, rng.random() < 0.75))
    limit = HEADER_TIMEOUT + BODY_TIMEOUT + 8

    def run(case):
        payload, shut = case
        data, closed = exchange(tight.port, payload, shut_write=shut, timeout=limit)
        return payload, shut, data, closed

    with ThreadPoolExecutor(max_workers=48) as pool:
        outcomes = list(pool.map(run, cases))
    for payload, shut, data, closed in outcomes:
        where = f"seed {seed}, payload {payload[:120]!r}, shut_write={shut}"
        assert closed, f"connection still open after {limit}s ({where}); got {data[:200]!r}"
        for response in parse_responses(data) if data else []:
            if 100 <= response.status < 200:
                continue
            body = response.json()
            if response.status >= 400:
                expect_wire_error(response, response.status)
            else:
                assert body, where
    assert tight.alive(), tight.log_tail()
    _sdk_call_works(tight)
    expect_ok(raw_v2_form(tight, "DescribeDesktops", V_ECD, {"RegionId": REGION}))
