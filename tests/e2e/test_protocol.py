"""The POP wire protocol: signatures V3 and V2, errors, robustness."""

from __future__ import annotations

import os
import socket

import requests

from amc_e2e import (
    REGION,
    V_APPSTREAM,
    V_ECD,
    check_error_body,
    core_call,
    ecd_client,
    expect_error,
    expect_ok,
    expect_raw_error,
    json_body,
    new_nonce,
    raw_v2,
    raw_v3,
    utc_stamp,
)


def _describe_req():
    from alibabacloud_ecd20200930 import models as m

    return m.DescribeDesktopsRequest(region_id=REGION)


# ---- calls that work


def test_v3_sdk_call(server):
    body = ecd_client(server).describe_desktops(_describe_req()).body.to_map()
    assert body.get("RequestId")
    assert isinstance(body.get("Desktops", []), list)


def test_v2_sdk_call(server):
    body = ecd_client(server, v2=True).describe_desktops(_describe_req()).body.to_map()
    assert body.get("RequestId")
    assert isinstance(body.get("Desktops", []), list)


def test_v2_core_sdk_get_and_post(server):
    # aliyun-python-sdk-core puts RegionId (the client's region) in the query itself
    for method in ("GET", "POST"):
        body = core_call(server, "DescribeDesktops", V_ECD, {}, method=method)
        assert body.get("RequestId"), (method, body)
        assert isinstance(body.get("Desktops", []), list), (method, body)
    body = core_call(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, method="GET")
    assert body.get("RequestId"), body


def test_v2_core_sdk_post_region_in_query_and_body(server):
    """POST with RegionId as a body parameter: the SDK also sends the same RegionId in the query.
    Query and body are one parameter map; the same value in both places is not an error."""
    body = core_call(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, method="POST")
    assert body.get("RequestId"), body


def test_v2_core_sdk_list_param_and_appstream(server):
    body = core_call(server, "ListDesktopAgentRuntime", V_APPSTREAM,
                     {"AgentProvider": "OpenClaw", "DesktopIds": ["ecd-doesnotexist1", "ecd-doesnotexist2"]},
                     method="POST")
    assert body.get("RequestId")
    assert body.get("Data") in (None, []), body


def test_raw_v3_query_and_body_and_raw_v2(server):
    expect_ok(raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}))
    expect_ok(raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, in_body=True))
    expect_ok(raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, method="GET"))
    expect_ok(raw_v2(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, method="GET"))
    expect_ok(raw_v2(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, method="POST"))


# ---- authentication errors


def test_wrong_secret(server):
    ak, _ = server.root_key
    client = ecd_client(server, (ak, "not-the-secret-000000000000000"))
    expect_error(lambda: client.describe_desktops(_describe_req()), "SignatureDoesNotMatch", 400)
    client2 = ecd_client(server, (ak, "not-the-secret-000000000000000"), v2=True)
    expect_error(lambda: client2.describe_desktops(_describe_req()), "SignatureDoesNotMatch", 400)
    resp = raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=(ak, "wrong"))
    expect_raw_error(resp, "SignatureDoesNotMatch", 400)


def test_wrong_secret_core_sdk(server):
    """aliyun-python-sdk-core (like the CLI's Go SDK) splits the V2 SignatureDoesNotMatch message on `:`
    to read `... server string to sign is:<StringToSign>`; a message without `:` makes it crash."""
    ak, _ = server.root_key
    for method in ("GET", "POST"):
        exc = expect_error(lambda method=method: core_call(server, "DescribeDesktops", V_ECD, {},
                                                           key=(ak, "wrong"), method=method),
                           "SignatureDoesNotMatch", 400)
        assert f"server string to sign is:{method}&%2F&" in exc.get_error_msg(), exc.get_error_msg()
    resp = raw_v2(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=(ak, "wrong"))
    body = expect_raw_error(resp, "SignatureDoesNotMatch", 400)
    assert "server string to sign is:GET&%2F&" in body["Message"], body["Message"]


def test_unknown_access_key(server):
    client = ecd_client(server, ("LTAInosuchkey0000000000", "whatever-secret-000000000000"))
    expect_error(lambda: client.describe_desktops(_describe_req()), "InvalidAccessKeyId.NotFound", 404)
    resp = raw_v2(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=("LTAInosuchkey", "x"))
    expect_raw_error(resp, "InvalidAccessKeyId.NotFound", 404)


def test_body_tampered_after_signing(server):
    from amc_e2e import sign_v3_headers

    body = b"RegionId=cn-hangzhou"
    headers = sign_v3_headers("POST", server.host, "DescribeDesktops", V_ECD, {}, body,
                              "application/x-www-form-urlencoded", *server.root_key)
    resp = requests.post(f"{server.url}/", data=b"RegionId=cn-shanghai", headers=headers, timeout=30)
    expect_raw_error(resp, "SignatureDoesNotMatch", 400)


def test_nonce_reuse_v3(server):
    nonce = new_nonce()
    expect_ok(raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=nonce))
    resp = raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=nonce)
    expect_raw_error(resp, "SignatureNonceUsed", 400)


def test_nonce_reuse_v2(server):
    nonce = new_nonce()
    expect_ok(raw_v2(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=nonce))
    resp = raw_v2(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=nonce)
    expect_raw_error(resp, "SignatureNonceUsed", 400)


def test_nonce_of_failed_signature_is_not_burnt(server):
    ak, _ = server.root_key
    nonce = new_nonce()
    expect_raw_error(raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=(ak, "bad"), nonce=nonce),
                     "SignatureDoesNotMatch", 400)
    expect_ok(raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=nonce))


def test_expired_date(server):
    resp = raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, date=utc_stamp(-16 * 60))
    expect_raw_error(resp, "InvalidTimeStamp.Expired", 400)
    resp = raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, date=utc_stamp(16 * 60))
    expect_raw_error(resp, "InvalidTimeStamp.Expired", 400)
    resp = raw_v2(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, timestamp=utc_stamp(-16 * 60))
    expect_raw_error(resp, "InvalidTimeStamp.Expired", 400)
    # within the window is fine
    expect_ok(raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, date=utc_stamp(-5 * 60)))


def test_garbled_authorization(server):
    for auth in ("ACS3-HMAC-SHA256 garbage", "ACS3-HMAC-SHA256 Credential=abc", "nonsense",
                 "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=zz-not-hex"):
        resp = raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, authorization=auth)
        expect_raw_error(resp, "IncompleteSignature", 400)


def test_no_authentication_at_all(server):
    resp = requests.post(f"{server.url}/", headers={"x-acs-action": "DescribeDesktops", "x-acs-version": V_ECD},
                         timeout=30)
    body = json_body(resp)
    assert 400 <= resp.status_code < 500, (resp.status_code, body)
    check_error_body(body)


# ---- routing and parameter errors


def test_unknown_action(server):
    expect_raw_error(raw_v3(server, "NoSuchAction", V_ECD, {"RegionId": REGION}), "InvalidAction.NotFound", 404)
    expect_raw_error(raw_v2(server, "NoSuchAction", V_APPSTREAM, {}), "InvalidAction.NotFound", 404)
    # an action of another product is not an action of this version
    expect_raw_error(raw_v3(server, "ListDesktopAgentRuntime", V_ECD, {"AgentProvider": "OpenClaw"}),
                     "InvalidAction.NotFound", 404)


def test_unknown_version(server):
    expect_raw_error(raw_v3(server, "DescribeDesktops", "2099-01-01", {"RegionId": REGION}), "InvalidVersion", 400)
    expect_raw_error(raw_v2(server, "DescribeDesktops", "1999-12-31", {"RegionId": REGION}), "InvalidVersion", 400)


def test_missing_required_parameter(server):
    resp = raw_v3(server, "StartDesktops", V_ECD, {"RegionId": REGION})
    expect_raw_error(resp, "MissingParameter", 400, names="DesktopId")
    resp = raw_v3(server, "DescribeDesktops", V_ECD, {})
    expect_raw_error(resp, "MissingParameter", 400, names="RegionId")
    resp = raw_v2(server, "StopDesktops", V_ECD, {"RegionId": REGION}, method="POST")
    expect_raw_error(resp, "MissingParameter", 400, names="DesktopId")


def test_wrong_parameter_type(server):
    resp = raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION, "PageSize": "abc"})
    expect_raw_error(resp, "InvalidParameter", 400, names="PageSize")
    resp = raw_v3(server, "ListDesktopAgentRuntime", V_APPSTREAM, {"AgentProvider": "OpenClaw", "PageNumber": "1.5x"})
    expect_raw_error(resp, "InvalidParameter", 400, names="PageNumber")
    resp = raw_v3(server, "ListDesktopAgentRuntime", V_APPSTREAM, {"AgentProvider": "OpenClaw", "HasAuthUser": "maybe"})
    expect_raw_error(resp, "InvalidParameter", 400, names="HasAuthUser")


def test_booleans_any_case(server):
    for value in ("True", "true", "TRUE", "False", "false"):
        expect_ok(raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION, "FillResourceGroup": value}))


def test_success_has_request_id_and_json_content_type(server):
    resp = raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION})
    body = expect_ok(resp)
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    other = expect_ok(raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}))
    assert other["RequestId"] != body["RequestId"]


def test_error_request_ids_are_unique(server):
    a = expect_raw_error(raw_v3(server, "NoSuchAction", V_ECD, {}), "InvalidAction.NotFound", 404)
    b = expect_raw_error(raw_v3(server, "NoSuchAction", V_ECD, {}), "InvalidAction.NotFound", 404)
    assert a["RequestId"] != b["RequestId"]


# ---- robustness


def test_unknown_path_answers_json(server):
    for method, path in (("GET", "/nope"), ("POST", "/nope/deeper"), ("DELETE", "/")):
        resp = requests.request(method, f"{server.url}{path}", timeout=30)
        body = json_body(resp)
        assert 400 <= resp.status_code < 500, (method, path, resp.status_code, body)
        check_error_body(body)


def test_huge_body_gets_json_error(server):
    import http.client

    size = 20 * 1024 * 1024
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.putrequest("POST", "/")
    conn.putheader("content-type", "application/x-www-form-urlencoded")
    conn.putheader("content-length", str(size))
    conn.putheader("x-acs-action", "DescribeDesktops")
    conn.putheader("x-acs-version", V_ECD)
    conn.endheaders()
    chunk = b"A" * (1024 * 1024)
    try:
        for _ in range(size // len(chunk)):
            conn.send(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may answer before reading everything; the answer must still be there
    try:
        resp = conn.getresponse()
        status, raw = resp.status, resp.read()
    except (ConnectionResetError, http.client.RemoteDisconnected) as exc:
        raise AssertionError(f"20 MB body: connection dropped without an answer ({exc!r})") from exc
    finally:
        conn.close()
    assert 400 <= status < 500, (status, raw[:300])
    import json

    body = json.loads(raw)
    check_error_body(body)
    expect_ok(raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}))


def test_garbage_does_not_hurt(server):
    for _ in range(5):
        resp = requests.post(f"{server.url}/", data=os.urandom(4096), timeout=30,
                             headers={"content-type": "application/x-www-form-urlencoded"})
        body = json_body(resp)
        assert 400 <= resp.status_code < 500, (resp.status_code, body)
        check_error_body(body)
    # bad UTF-8 in the query, in a V2-looking request and in a V3-signed one
    for qs in ("Action=%FF%FE&Version=2020-09-30", "%C3%28=%80&Signature=%FF&SignatureMethod=HMAC-SHA1",
               "RegionId=%E0%80%AF"):
        resp = requests.get(f"{server.url}/?{qs}", timeout=30)
        body = json_body(resp)
        assert 400 <= resp.status_code < 500, (qs, resp.status_code, body)
        check_error_body(body)
    resp = requests.post(f"{server.url}/?RegionId=%FF", timeout=30,
                         headers={"x-acs-action": "DescribeDesktops", "x-acs-version": V_ECD,
                                  "Authorization": "ACS3-HMAC-SHA256 Credential=x,SignedHeaders=host,Signature=00"})
    assert 400 <= resp.status_code < 500
    check_error_body(json_body(resp))
    # not HTTP at all
    for payload in (os.urandom(2048), b"GET / HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            try:
                s.sendall(payload)
                s.settimeout(5)
                s.recv(4096)
            except OSError:
                pass
    assert server.alive(), server.log_tail()
    expect_ok(raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}))
    expect_ok(raw_v2(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}))


def test_healthz(server):
    assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
