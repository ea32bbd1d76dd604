"""The audit trail: every call that changes state (whatever it answered) and every call refused
before its action ran lands in it — time, principal, source IP, action, resources, result code,
request id, never a secret — and `amc admin audit` reads it back by time, principal, action and
resource as JSON lines."""

from __future__ import annotations

import json
import time
import uuid

from amc_e2e import IMG_UBUNTU, REGION, json_body, raw_v3
from test_agent import API_KEY, model_group
from test_delivery import other_tenant

V_ECD = "2020-09-30"


def audit(server, *filters: str) -> list[dict]:
    out = server.admin("audit", *filters, *server.store_args())
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_writes_and_refusals_are_audited_and_reads_are_not(server):
    api = other_tenant(server)
    key_id = api.key[0]
    started = int(time.time() * 1000)
    rid = api.create(image=IMG_UBUNTU, name="audited")[0]
    listed = json_body(raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=api.key))
    deleted = json_body(raw_v3(server, "DeleteDesktops", V_ECD, {"RegionId": REGION, "DesktopId": [rid]},
                               key=api.key))
    missing = json_body(raw_v3(server, "DeleteDesktops", V_ECD, {"RegionId": REGION,
                                                                  "DesktopId": ["ecd-nonexistent00000"]},
                               key=api.key))
    forged = json_body(raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION},
                              key=(key_id, "not-the-secret")))
    model_group(api)  # a provider with an API key: the key never reaches the trail

    rows = audit(server, "--principal", key_id, "--since", str(started))
    actions = [r["Action"] for r in rows]
    assert "CreateDesktops" in actions and "CreateModelProviderTemplate" in actions, actions
    assert "DescribeDesktops" in actions, "the forged call is audited"
    described = [r for r in rows if r["Action"] == "DescribeDesktops"]
    assert [r["Code"] for r in described] == ["SignatureDoesNotMatch"], "a successful read is not audited"
    assert described[0]["RequestId"] == forged["RequestId"] and listed["RequestId"] not in {r["RequestId"] for r in rows}
    deletes = [r for r in rows if r["Action"] == "DeleteDesktops"]
    assert [(r["Code"], r["Resources"], r["RequestId"]) for r in deletes] == [
        ("OK", [rid], deleted["RequestId"]),
        (missing["Code"], ["ecd-nonexistent00000"], missing["RequestId"]),
    ], deletes
    assert len({r["TenantId"] for r in rows}) == 1 and rows[0]["TenantId"], rows
    for row in rows:
        assert row["Principal"] == key_id and row["SourceIp"] == "127.0.0.1"
        assert started <= row["At"] <= int(time.time() * 1000)
        assert row["Product"] in ("ecd", "appstream-center", "wss", "resourcemanager"), row
    out = server.admin("audit", "--principal", key_id, *server.store_args()).stdout
    assert API_KEY not in out and "not-the-secret" not in out

    # The filters: by resource, by action, by time.
    assert [r["RequestId"] for r in audit(server, "--resource", rid)] == [deleted["RequestId"]]
    assert {r["Action"] for r in audit(server, "--principal", key_id, "--action", "DeleteDesktops")} == {"DeleteDesktops"}
    assert audit(server, "--principal", key_id, "--until", str(started)) == []
    assert audit(server, "--principal", key_id, "--since", "2999-01-01T00:00:00Z") == []
    bad = server.admin("audit", "--since", "yesterday", *server.store_args())
    assert bad.returncode != 0 and "--since" in bad.stderr


def test_a_key_no_tenant_has_is_audited_without_a_tenant(server):
    body = json_body(raw_v3(server, "DeleteDesktops", V_ECD, {"RegionId": REGION, "DesktopId": ["ecd-x"]},
                            key=("LTAIunknownkey000000001", "secret")))
    rows = audit(server, "--principal", "LTAIunknownkey000000001")
    assert [(r["Code"], r["TenantId"], r["RequestId"]) for r in rows] == [
        (body["Code"], None, body["RequestId"])], rows


def test_a_refused_v2_call_names_its_action_and_product(server):
    from amc_e2e import raw_v2

    body = json_body(raw_v2(server, "DescribeDesktops", V_ECD, {"RegionId": REGION},
                            key=("LTAIunknownv2key00000001", "secret")))
    rows = audit(server, "--principal", "LTAIunknownv2key00000001")
    assert [(r["Action"], r["Product"], r["Code"]) for r in rows] == [("DescribeDesktops", "ecd", body["Code"])]


def test_every_surface_audits_its_credentials(server, tenant, tmp_path):
    """Object uploads (writes and refusals), node-daemon enrolments and refusals, refused model
    gateway calls, and the operator's commands that issue and revoke those credentials are rows
    of the same trail, naming credential ids, never secrets."""
    import oss2
    import requests

    from agent_e2e import Agent
    from test_agent import token_for
    from test_skill_upload import oss2_bucket, sts, weather_zip
    from test_skills import ecd

    started = int(time.time() * 1000)
    rid = tenant.create(image=IMG_UBUNTU, name="trail")[0]

    # Uploads: a write, and a write outside the credentials' prefix.
    upload = sts(ecd(server, tenant.key))
    bucket = oss2_bucket(server, upload)
    assert bucket.put_object(upload.object_key_prefix + "ok.zip", weather_zip()).status == 200
    try:
        bucket.put_object("elsewhere/x.zip", b"x")
        raise AssertionError("uploaded outside the prefix")
    except oss2.exceptions.ServerError as e:
        assert e.code == "AccessDenied", e
    rows = audit(server, "--principal", upload.access_key_id)
    assert [(r["Product"], r["Action"], r["Code"]) for r in rows] == [
        ("oss", "PutObject", "OK"), ("oss", "PutObject", "AccessDenied")], rows
    assert rows[0]["Resources"] == [f"{upload.bucket}/{upload.object_key_prefix}ok.zip"]
    assert all(upload.access_key_secret not in json.dumps(r) and upload.security_token not in json.dumps(r)
               for r in rows)
    # Revoked before they expire: refused at once, and the revocation is a row too.
    out = server.admin("revoke", "--upload-credential", upload.access_key_id, *server.store_args())
    assert out.returncode == 0, out.stderr
    try:
        bucket.put_object(upload.object_key_prefix + "late.zip", b"x")
        raise AssertionError("revoked credentials uploaded")
    except oss2.exceptions.ServerError as e:
        assert (e.status, e.code) == (403, "InvalidAccessKeyId"), e
    revoked = [r for r in audit(server, "--resource", upload.access_key_id) if r["Product"] == "admin"]
    assert [r["Action"] for r in revoked] == ["RevokeUploadCredential"], revoked

    # The node daemon: the operator's token, the enrolment, a refused credential.
    token = token_for(server, rid)
    token_id = token.split(".")[0]
    Agent(server.binary, tmp_path / "host").enroll(server.url, token, "--product", "openclaw")
    made = [r for r in audit(server, "--action", "CreateEnrollToken") if r["At"] >= started]
    assert made and made[-1]["Product"] == "admin" and made[-1]["Principal"].startswith("admin:"), made
    assert token_id in made[-1]["Resources"] and rid in made[-1]["Resources"]
    enrolled = audit(server, "--principal", token_id)
    assert [(r["Action"], r["Code"], r["TenantId"], r["Resources"]) for r in enrolled] == [
        ("Enroll", "OK", tenant.info["AccountId"], [rid])], enrolled
    forged = "nc-" + uuid.uuid4().hex[:17] + "." + "0" * 64
    r = requests.get(f"{server.url}/agent/v1/desired", headers={"Authorization": f"Bearer {forged}"}, timeout=10)
    assert r.status_code == 401
    refused = audit(server, "--principal", forged.split(".")[0])
    assert [(r["Product"], r["Action"], r["Code"]) for r in refused] == [
        ("agent", "GetDesiredState", "Unauthorized")], refused

    # The model gateway: a key issued, revoked, then refused.
    out = server.admin("gateway-key", "--runtime", rid, *server.store_args())
    assert out.returncode == 0, out.stderr
    gateway_key = out.stdout.strip().splitlines()[-1]
    out = server.admin("gateway-key", "--runtime", rid, "--revoke", *server.store_args())
    assert out.returncode == 0, out.stderr
    r = requests.post(f"{server.url}/v1/chat/completions", headers={"Authorization": f"Bearer {gateway_key}"},
                      json={"model": "default", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
    assert r.status_code == 401, r.text
    key_id = gateway_key.split(".")[0]
    issued = [r["Action"] for r in audit(server, "--resource", rid) if r["Product"] == "admin"]
    assert issued[-2:] == ["IssueGatewayKey", "RevokeGatewayKeys"], issued
    refused = audit(server, "--principal", key_id)
    assert [(r["Product"], r["Action"], r["Code"]) for r in refused] == [
        ("gateway", "ChatCompletions", "invalid_api_key")], refused
    assert gateway_key not in json.dumps(audit(server, "--since", str(started)))
