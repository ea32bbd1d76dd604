"""No call crosses tenants: every action of spec/spec.json (and the resourcemanager actions amc
serves), called with another tenant's key and filled with the first tenant's resource ids — its
runtime, model group, provider, model, resource group, skill, parse task, uploaded object — reads
none of the first tenant's data and changes none of it. Reads are checked on every answer (none
of the first tenant's ids or secrets in a successful answer, other than a per-item refusal naming
the id it was given); writes by comparing the first tenant's own view before and after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amc_e2e import BUNDLE_OPENCLAW, IMG_UBUNTU, REGION, json_body, raw_v3
from test_agent import model_group
from test_channels import config as config_channel
from test_delivery import config_rt, other_tenant
from test_resource_groups import create as create_group
from test_resource_groups import desktop, move
from test_skill_upload import oss2_bucket, parse, sts, weather_zip
from test_skills import ecd, m

REPO = Path(__file__).resolve().parents[2]
V_RM = "2020-03-31"
RM_ACTIONS = {
    "CreateResourceGroup": [("Name", "string", False)],
    "GetResourceGroup": [("ResourceGroupId", "string", True)],
    "ListResourceGroups": [],
    "DeleteResourceGroup": [("ResourceGroupId", "string", True)],
    "MoveResources": [("ResourceGroupId", "string", True), ("Resources", "array<object>", True)],
}
SECRET = "sk-cross-tenant-9d2f7a"
CHANNEL_SECRET = "feishu-cross-tenant-4e1b"
# Calls that change state go last, deletions at the very end.
WRITE_PREFIXES = ("Create", "Config", "Set", "Update", "Remove", "Move", "Batch", "Parse", "Start",
                  "Stop", "Reboot")
DELETE_PREFIX = "Delete"


@pytest.fixture(scope="module")
def victim(server):
    """A tenant with one of everything, and the ids of it."""
    api = other_tenant(server)
    rid = api.create(image=IMG_UBUNTU, name="victim")[0]
    mt, mpt = model_group(api)
    config_rt(api, mt, [rid])
    config_channel(api, [rid], "feishu", {"appId": "cli_victim", "appSecret": CHANNEL_SECRET})
    from test_models import Models
    llm = Models(api).models(provider_template_id=mpt)[0]["LlmTemplateId"]
    rg = create_group(api, "victim-group")["ResourceGroup"]["Id"]
    move(api, rg, [desktop(rid)])
    client = ecd(server, api.key)
    token = sts(client)
    key = token.object_key_prefix + "weather.zip"
    etag = oss2_bucket(server, token).put_object(key, weather_zip()).etag
    parsed = parse(client, key, etag)
    skill = client.create_tenant_skill(m().CreateTenantSkillRequest(
        task_key=parsed["TaskKey"], skill_channel="ENTERPRISE", api_key=SECRET)).body.skill_id
    client.set_identity_skill_auth(m().SetIdentitySkillAuthRequest(
        auto_install=True, operation_type="SET_AUTH", skill_channel="ENTERPRISE", skill_ids=[skill],
        identities=[m().SetIdentitySkillAuthRequestIdentities(identity_id=rid, region_id=REGION)]))
    ids = {"rid": rid, "mt": mt, "mpt": mpt, "llm": llm, "rg": rg, "skill": skill,
           "task": parsed["TaskKey"], "key": key, "etag": etag}
    return api, ids


def values(ids: dict) -> dict:
    rid = ids["rid"]
    identity = [{"IdentityId": rid, "RegionId": REGION}]
    return {
        "ModelTemplateId": ids["mt"], "ModelTemplateIdList": [ids["mt"]],
        "ProviderTemplateId": ids["mpt"], "ProviderTemplateIds": [ids["mpt"]],
        "LlmTemplateId": ids["llm"], "LlmTemplateIds": [ids["llm"]],
        "DesktopId": [rid], "DesktopIds": [rid], "RuntimeId": rid, "RuntimeIds": [rid],
        "InstanceIds": [rid], "AgentIds": [rid], "ResourceIds": [rid],
        "ResourceGroupId": ids["rg"], "ResourceGroupIds": [ids["rg"]],
        "SkillId": ids["skill"], "SkillIds": [ids["skill"]], "TaskKey": ids["task"],
        "OssObjectKey": ids["key"], "OssObjectETag": ids["etag"],
        "Identities": identity, "IdentityIds": identity,
        "Resources": [{"ResourceId": rid, "RegionId": REGION, "Service": "ecd", "ResourceType": "desktop"}],
        "RegionId": REGION, "AgentProvider": "OpenClaw", "RuntimeType": "CloudDesktop", "BizType": 1,
        "SkillChannel": "ENTERPRISE", "Code": "feishu", "OperationType": "SET_AUTH", "AutoInstall": True,
        "Enabled": False, "Name": "cross-tenant", "ProviderName": "provider-corp", "FileType": "SKILL",
        "Config": json.dumps({"appId": "cli_attacker", "appSecret": "attacker"}),
    }


# What an action needs besides ids to reach its checks of them.
OVERRIDES = {
    "CreateModelProviderTemplate": {"Config": json.dumps({"baseUrl": "http://127.0.0.1:9/v1", "apiKey": "x",
                                                          "api": "openai-completions"})},
    "BatchCreateLlmTemplates": {"LlmTemplateItems": [{"LlmCode": "cross", "Name": "cross"}]},
    "CreateDesktops": {"BundleId": BUNDLE_OPENCLAW},
    "CreateResourceGroup": {"DisplayName": "cross-tenant"},
}


def generic(kind: str):
    if kind.startswith("array<object"):
        return [{}]
    if kind.startswith("array"):
        return ["x"]
    return {"boolean": True, "integer": 1, "long": 1}.get(kind, "x")


def calls(ids: dict) -> list[tuple[str, str, dict]]:
    spec = json.loads((REPO / "spec" / "spec.json").read_text())
    known = values(ids)
    out = []
    rows = [(a["version"], a["action"], [(p["name"], p["type"], p.get("required"), p.get("encoding"))
                                          for p in a["request"]]) for a in spec["actions"]]
    rows += [(V_RM, name, [(n, t, r, None) for n, t, r in params]) for name, params in RM_ACTIONS.items()]
    for version, action, params in rows:
        filled = {}
        for name, kind, required, encoding in params:
            if name in known:
                value = known[name]
            elif required:
                value = generic(kind)
            else:
                continue
            if encoding == "json" and not isinstance(value, str):
                value = json.dumps(value)
            filled[name] = value
        filled.update(OVERRIDES.get(action, {}))
        out.append((version, action, filled))

    def order(call):
        action = call[1]
        return (2 if action.startswith(DELETE_PREFIX) else 1 if action.startswith(WRITE_PREFIXES) else 0, action)

    return sorted(out, key=order)


def ids_in(value, wanted: set[str], path="") -> list[tuple[str, dict | None]]:
    """Where in an answer any of `wanted` appears: (path, the object holding it)."""
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str) and v in wanted:
                found.append((f"{path}.{k}", value))
            else:
                found += ids_in(v, wanted, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, str) and v in wanted:
                found.append((f"{path}[{i}]", None))
            else:
                found += ids_in(v, wanted, f"{path}[{i}]")
    return found


def refused_item(holder: dict | None) -> bool:
    """An item of a batch answer that reports a refusal of the id it names."""
    if not holder:
        return False
    code = str(holder.get("Code") or holder.get("ErrorCode") or "")
    return bool(code) and code not in ("200", "OK", "Success", "success")


def snapshot(server, api, ids) -> dict:
    """The victim's own view of everything it has."""
    key = api.key
    reads = [
        ("2021-09-01", "ListModelTemplates", {"BizType": 1}),
        ("2021-09-01", "GetModelProviderTemplate", {"ProviderTemplateId": ids["mpt"]}),
        ("2021-09-01", "ListLlmTemplates", {"ProviderTemplateId": ids["mpt"]}),
        ("2021-09-01", "GetRuntimeModelConfig", {"AgentProvider": "OpenClaw", "RuntimeId": ids["rid"],
                                                 "RuntimeType": "CloudDesktop"}),
        ("2021-09-01", "GetRuntimeChannel", {"AgentProvider": "OpenClaw", "RuntimeId": ids["rid"],
                                             "RuntimeType": "CloudDesktop"}),
        ("2021-09-01", "ListModelTemplateResourceGroup", {"ModelTemplateId": ids["mt"]}),
        ("2020-09-30", "DescribeDesktops", {"RegionId": REGION}),
        ("2021-06-02", "ListSkills", {"SkillChannel": "ENTERPRISE"}),
        ("2021-06-02", "ListSkillAuthedIdentities", {"SkillChannel": "ENTERPRISE", "SkillId": ids["skill"]}),
        ("2021-06-02", "ListSecureSkillIdentities", {"SkillChannel": "ENTERPRISE"}),
        ("2021-06-02", "GetParseProgress", {"TaskKey": ids["task"]}),
        (V_RM, "GetResourceGroup", {"ResourceGroupId": ids["rg"]}),
    ]
    out = {}
    for version, action, params in reads:
        body = json_body(raw_v3(server, action, version, params, key=key))
        body.pop("RequestId", None)
        out[action] = body
    return out


def test_another_tenants_key_reads_and_changes_nothing(server, victim):
    api, ids = victim
    attacker = other_tenant(server)
    before = snapshot(server, api, ids)
    wanted = {v for k, v in ids.items() if k not in ("etag",)}
    leaks, answered = [], 0
    for version, action, params in calls(ids):
        resp = raw_v3(server, action, version, params, key=attacker.key)
        text = resp.text
        for secret in (SECRET, CHANNEL_SECRET, "sk-agent-e2e-7f3a9c1d5e8b2a4f6c0d"):
            assert secret not in text, f"{action} answered the victim's secret"
        if resp.status_code >= 400:
            continue
        answered += 1
        body = json_body(resp)
        for path, holder in ids_in(body, wanted):
            if not refused_item(holder):
                leaks.append((action, path, holder))
    assert not leaks, f"answers holding the victim's ids: {leaks}"
    assert answered > 0, "no call succeeded at all: the walk tested nothing"
    after = snapshot(server, api, ids)
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert not changed, f"the victim's data changed: {changed}"
