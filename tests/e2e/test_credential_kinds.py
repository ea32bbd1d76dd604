"""Each kind of credential works on its own surface only: an access key (POP API), an upload
credential of GetOssStsToken (object upload), a node daemon's credential (agent endpoint) and a
gateway key (model gateway) are each refused on every other surface, in that surface's terms."""

from __future__ import annotations

import json

import oss2
import requests

from agent_e2e import Agent
from amc_e2e import IMG_UBUNTU, REGION, json_body, raw_v3
from test_agent import token_for
from test_skill_upload import oss2_bucket, sts, weather_zip
from test_skills import ecd

V_ECD = "2020-09-30"


def test_every_credential_is_refused_off_its_own_surface(server, tenant, tmp_path):
    rid = tenant.create(image=IMG_UBUNTU, name="kinds")[0]
    upload = sts(ecd(server, tenant.key))
    out = server.admin("gateway-key", "--runtime", rid, *server.store_args())
    assert out.returncode == 0, out.stderr
    gateway_key = out.stdout.strip().splitlines()[-1]
    agent = Agent(server.binary, tmp_path / "host")
    agent.enroll(server.url, token_for(server, rid), "--product", "openclaw")
    daemon = json.loads((agent.dir / "credentials.json").read_text())["credential"]

    # Each on its own surface: works.
    assert raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=tenant.key).status_code == 200
    assert oss2_bucket(server, upload).put_object(upload.object_key_prefix + "ok.zip", weather_zip()).status == 200
    assert requests.get(f"{server.url}/agent/v1/desired", headers={"Authorization": f"Bearer {daemon}"},
                        timeout=10).status_code == 200

    # The POP API: only access keys.
    for key in [(upload.access_key_id, upload.access_key_secret), (gateway_key.split(".")[0], gateway_key),
                (daemon.split(".")[0], daemon)]:
        body = json_body(raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=key))
        assert body["Code"] == "InvalidAccessKeyId.NotFound", (key[0], body)

    # Object upload: only upload credentials.
    for key_id, secret in [tenant.key, (gateway_key.split(".")[0], gateway_key), (daemon.split(".")[0], daemon)]:
        bucket = oss2.Bucket(oss2.StsAuth(key_id, secret, upload.security_token), server.url, upload.bucket)
        try:
            bucket.put_object(upload.object_key_prefix + "x.zip", b"x")
            raise AssertionError(f"{key_id} uploaded")
        except oss2.exceptions.ServerError as e:
            assert (e.status, e.code) == (403, "InvalidAccessKeyId"), e

    # The agent endpoint: only daemon credentials.
    for bearer in [tenant.key[1], upload.security_token, upload.access_key_secret, gateway_key]:
        r = requests.get(f"{server.url}/agent/v1/desired", headers={"Authorization": f"Bearer {bearer}"}, timeout=10)
        assert r.status_code == 401 and r.json()["error"]["code"] == "Unauthorized", r.text

    # The model gateway: only gateway keys.
    for bearer in [tenant.key[1], f"{tenant.key[0]}.{tenant.key[1]}", upload.security_token, daemon]:
        r = requests.post(f"{server.url}/v1/chat/completions", headers={"Authorization": f"Bearer {bearer}"},
                          json={"model": "default", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
        assert r.status_code == 401, r.text
