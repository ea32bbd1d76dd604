"""appstream-center 2021-09-01 model group delivery through the official SDK: assigning model groups to
runtimes (Config/RemoveRuntimeModelTemplate), binding them to resource groups
(Config/RemoveResourceGroupModelTemplate, ListModelTemplateResourceGroup), the effective configuration
of a runtime (GetRuntimeModelConfig) and how ListDesktopAgentRuntime shows it."""

from __future__ import annotations

import json

from amc_e2e import BUNDLE_HERMES, IMG_UBUNTU, REGION, V_APPSTREAM, expect_error, expect_ok, raw_v3, wait_until
from test_models import QWEN_CONFIG, Models

PLANTED_KEY = "sk-delivery-planted-5a5a5a5a7e7e7e7e"
MISSING_MT = "mt-doesnotexist0000"
MISSING_RG = "rg-doesnotexist0000"
MISSING_RT = "ecd-doesnotexist0000"


# --------------------------------------------------------------------------------------------------
# helpers


def a():
    from alibabacloud_appstream_center20210901 import models

    return models


def _body(resp) -> dict:
    body = resp.body.to_map()
    assert body.get("RequestId"), body
    return body


def config_rt(api, mt, ids, runtime_type="CloudDesktop") -> dict:
    body = _body(api.appstream.config_runtime_model_template(a().ConfigRuntimeModelTemplateRequest(
        model_template_id=mt, runtime_ids=list(ids) if ids is not None else None, runtime_type=runtime_type)))
    assert body["TotalCount"] == len(body.get("Data") or []), body
    return body


def remove_rt(api, mt, ids, runtime_type="CloudDesktop") -> dict:
    body = _body(api.appstream.remove_runtime_model_template(a().RemoveRuntimeModelTemplateRequest(
        model_template_id=mt, runtime_ids=list(ids) if ids is not None else None, runtime_type=runtime_type)))
    assert body["TotalCount"] == len(body.get("Data") or []), body
    return body


def bind(api, mt, rg) -> dict:
    return _body(api.appstream.config_resource_group_model_template(
        a().ConfigResourceGroupModelTemplateRequest(model_template_id=mt, resource_group_id=rg)))


def unbind(api, mt, rgs) -> dict:
    body = _body(api.appstream.remove_resource_group_model_template(
        a().RemoveResourceGroupModelTemplateRequest(model_template_id=mt, resource_group_ids=list(rgs))))
    assert body["TotalCount"] == len(body.get("Data") or []), body
    return body


def bindings_page(api, mt, **kw) -> dict:
    return _body(api.appstream.list_model_template_resource_group(
        a().ListModelTemplateResourceGroupRequest(model_template_id=mt, **kw)))


def bound_groups(api, mt, **kw) -> set[str]:
    kw.setdefault("page_size", 100)
    return {d["ResourceGroupId"] for d in bindings_page(api, mt, **kw).get("Data") or []}


def model_config(api, rid, provider="OpenClaw", risk=None) -> dict:
    body = _body(api.appstream.get_runtime_model_config(a().GetRuntimeModelConfigRequest(
        agent_provider=provider, runtime_id=rid, runtime_type="CloudDesktop", include_risk_info=risk)))
    assert isinstance(body.get("Data"), dict), body
    return body["Data"]


def move(api, rg, ids):
    from alibabacloud_resourcemanager20200331 import models as r

    items = [r.MoveResourcesRequestResources(resource_id=i, region_id=REGION, service="ecd", resource_type="desktop")
             for i in ids]
    res = api.rm.move_resources(r.MoveResourcesRequest(resource_group_id=rg, resources=items)).body.to_map()
    assert [x["Status"] for x in res["Responses"]] == ["SUCCESS"] * len(ids), res


def delete_rg(api, rg):
    from alibabacloud_resourcemanager20200331 import models as r

    return api.rm.delete_resource_group(r.DeleteResourceGroupRequest(resource_group_id=rg)).body.to_map()


def ok_items(body, ids):
    """Every item succeeded, one per id in request order."""
    data = body["Data"]
    assert [d["RuntimeId"] for d in data] == list(ids), body
    for d in data:
        assert d["Success"] is True and d["Code"] == "200" and d["HttpStatusCode"] == 200, d


def failed(item, code, status):
    assert item["Success"] is False, item
    assert item["Code"] == code and item["HttpStatusCode"] == status, item
    assert item.get("Message"), item


def rows(api, ids, provider="OpenClaw") -> dict:
    return {r["DesktopId"]: r for r in api.runtimes(desktop_ids=list(ids), agent_provider=provider)}


def assert_effective(row, mt, name):
    """ListDesktopAgentRuntime shows `mt` (None: no model group) as the runtime's model group."""
    inst = row["AgentInstanceInfoList"][0]
    if mt is None:
        assert row["ModelConfigure"] is False and not row.get("ModelTemplateId"), row
        assert not row.get("ModelTemplateName"), row
        assert inst["ModelConfigure"] is False and not inst.get("ModelTemplateId"), row
        return
    assert row["ModelConfigure"] is True, row
    assert row["ModelTemplateId"] == mt and row["ModelTemplateName"] == name, row
    assert inst["ModelConfigure"] is True and inst["ModelTemplateId"] == mt, row
    if "ModelTemplateName" in inst:
        assert inst["ModelTemplateName"] == name, row


def expect_error_any(fn, codes, status=400):
    """Like expect_error, for a call that may fail with any of `codes` (their order is not specified)."""
    from Tea.exceptions import TeaException

    try:
        fn()
    except TeaException as exc:
        got = (exc.code, getattr(exc, "statusCode", None))
        assert got[0] in codes and got[1] == status, f"expected one of {codes} ({status}), got {got}: {exc}"
        return exc
    raise AssertionError(f"expected one of {codes}, call succeeded")


def other_tenant(server):
    info = server.create_tenant()
    api = server.api((info["AccessKeyId"], info["AccessKeySecret"]))
    api.info = info
    return api


# --------------------------------------------------------------------------------------------------
# runtime assignments


def test_config_runtime_model_template_per_item_results(tenant, server):
    mdl = Models(tenant)
    mt = mdl.create_group(name="fleet models")
    ids = tenant.create(image=IMG_UBUNTU, amount=3, name="dl-cfg")
    gone = tenant.create(image=IMG_UBUNTU, amount=1, name="dl-gone")[0]
    tenant.delete([gone])
    wait_until(lambda: tenant.status(gone) == "Deleted", 30, what="desktop deleted")
    hermes = tenant.create(bundle=BUNDLE_HERMES, amount=1, name="dl-hermes")[0]
    foreign = other_tenant(server).create(image=IMG_UBUNTU, amount=1, name="dl-foreign")[0]

    # all good, duplicates collapsed, request order kept
    body = config_rt(tenant, mt, [ids[1], ids[0], ids[1]])
    ok_items(body, [ids[1], ids[0]])
    assert body["TotalCount"] == 2

    # failures fail alone
    req = [ids[2], MISSING_RT, gone, foreign, hermes]
    body = config_rt(tenant, mt, req)
    assert [d["RuntimeId"] for d in body["Data"]] == req and body["TotalCount"] == 5, body
    ok_items({"Data": body["Data"][:1]}, [ids[2]])
    for item in body["Data"][1:4]:
        failed(item, "Runtime.NotFound", 404)
    failed(body["Data"][4], "Runtime.AgentProviderMismatch", 400)

    listed = rows(tenant, ids)
    for rid in ids:
        assert_effective(listed[rid], mt, "fleet models")
    assert_effective(rows(tenant, [hermes], provider="HermesAgent")[hermes], None, None)
    # the other tenant's runtime is untouched
    assert tenant.runtime_ids(model_template_id=mt) == set(ids)

    # the whole call fails for an unknown group
    expect_error(lambda: config_rt(tenant, MISSING_MT, ids), "InvalidModelTemplateId.NotFound", 404, names=MISSING_MT)


def test_config_runtime_model_template_validation(tenant):
    mdl = Models(tenant)
    mt = mdl.create_group()
    rid = tenant.create(image=IMG_UBUNTU, amount=1, name="dl-val")[0]
    for fn in (config_rt, remove_rt):
        expect_error(lambda fn=fn: fn(tenant, mt, [rid], runtime_type="Jvs"), "InvalidParameter", 400,
                     names="RuntimeType")
        expect_error(lambda fn=fn: fn(tenant, mt, None), "MissingParameter", 400, names="RuntimeIds")
        expect_error(lambda fn=fn: fn(tenant, mt, [f"ecd-x{i:07d}" for i in range(1001)]), "InvalidParameter",
                     400, names="RuntimeIds")
        expect_error(lambda fn=fn: fn(tenant, None, [rid]), "MissingParameter", 400, names="ModelTemplateId")
        expect_error(lambda fn=fn: fn(tenant, mt, [rid], runtime_type=None), "MissingParameter", 400,
                     names="RuntimeType")
    # 1000 ids are fine (all unknown here)
    body = config_rt(tenant, mt, [f"ecd-x{i:07d}" for i in range(1000)])
    assert body["TotalCount"] == 1000 and not any(d["Success"] for d in body["Data"])
    assert_effective(rows(tenant, [rid])[rid], None, None)


def test_list_desktop_agent_runtime_filters_by_model_group(tenant):
    mdl = Models(tenant)
    mt1 = mdl.create_group(name="first")
    mt2 = mdl.create_group(name="second")
    ids = tenant.create(image=IMG_UBUNTU, amount=4, name="dl-filter")
    ok_items(config_rt(tenant, mt1, ids[:2]), ids[:2])
    ok_items(config_rt(tenant, mt2, ids[2:3]), ids[2:3])

    assert tenant.runtime_ids(model_template_id=mt1) == set(ids[:2])
    assert tenant.runtime_ids(model_template_id=mt2) == {ids[2]}
    assert tenant.runtime_ids(model_configure=True) == set(ids[:3])
    assert tenant.runtime_ids(model_configure=False) == {ids[3]}
    assert tenant.runtime_ids(model_template_id=mt1, model_configure=False) == set()
    assert tenant.runtime_ids(model_template_id=mt1, desktop_ids=[ids[0], ids[2]]) == {ids[0]}

    # a new assignment replaces the old one
    ok_items(config_rt(tenant, mt2, [ids[1]]), [ids[1]])
    assert_effective(rows(tenant, [ids[1]])[ids[1]], mt2, "second")
    assert tenant.runtime_ids(model_template_id=mt1) == {ids[0]}
    assert tenant.runtime_ids(model_template_id=mt2) == {ids[1], ids[2]}
    # a renamed group shows its new name
    mdl.update_group(mt2, name="second renamed")
    assert_effective(rows(tenant, [ids[2]])[ids[2]], mt2, "second renamed")


def test_remove_runtime_model_template(tenant):
    mdl = Models(tenant)
    mt = mdl.create_group(name="to remove")
    other = mdl.create_group(name="other")
    ids = tenant.create(image=IMG_UBUNTU, amount=3, name="dl-rm")
    ok_items(config_rt(tenant, mt, ids[:2]), ids[:2])
    ok_items(config_rt(tenant, other, ids[2:]), ids[2:])

    body = remove_rt(tenant, mt, [ids[0], ids[2], MISSING_RT, ids[0]])
    assert [d["RuntimeId"] for d in body["Data"]] == [ids[0], ids[2], MISSING_RT], body
    ok_items({"Data": body["Data"][:1]}, [ids[0]])
    failed(body["Data"][1], "Runtime.ModelTemplateNotAssigned", 400)
    failed(body["Data"][2], "Runtime.NotFound", 404)

    listed = rows(tenant, ids)
    assert_effective(listed[ids[0]], None, None)
    assert_effective(listed[ids[1]], mt, "to remove")
    assert_effective(listed[ids[2]], other, "other")
    # removing twice: no longer assigned
    failed(remove_rt(tenant, mt, [ids[0]])["Data"][0], "Runtime.ModelTemplateNotAssigned", 400)
    # an unknown group is assigned to none of them
    for item in remove_rt(tenant, MISSING_MT, ids)["Data"]:
        failed(item, "Runtime.ModelTemplateNotAssigned", 400)
    assert_effective(rows(tenant, [ids[1]])[ids[1]], mt, "to remove")
    assert model_config(tenant, ids[0]).get("ModelTemplateId") is None


# --------------------------------------------------------------------------------------------------
# resource group bindings


def test_resource_group_binding_is_inherited(tenant):
    mdl = Models(tenant)
    mt = mdl.create_group(name="group models")
    own = mdl.create_group(name="own models")
    hermes_mt = mdl.create_group(name="hermes models", provider="HermesAgent")
    rg = tenant.create_group("dl-bound")
    rg_other = tenant.create_group("dl-elsewhere")
    inside = tenant.create(image=IMG_UBUNTU, amount=2, name="dl-in", rg=rg)
    direct = tenant.create(image=IMG_UBUNTU, amount=1, name="dl-direct", rg=rg)[0]
    outside = tenant.create(image=IMG_UBUNTU, amount=1, name="dl-out", rg=rg_other)[0]
    loose = tenant.create(image=IMG_UBUNTU, amount=1, name="dl-loose")[0]
    hermes = tenant.create(bundle=BUNDLE_HERMES, amount=1, name="dl-h", rg=rg)[0]
    ok_items(config_rt(tenant, own, [direct]), [direct])

    assert bind(tenant, mt, rg)
    listed = rows(tenant, inside + [direct, outside, loose])
    for rid in inside:
        assert_effective(listed[rid], mt, "group models")
    assert_effective(listed[direct], own, "own models")
    assert_effective(listed[outside], None, None)
    assert_effective(listed[loose], None, None)
    assert_effective(rows(tenant, [hermes], provider="HermesAgent")[hermes], None, None)
    assert tenant.runtime_ids(model_template_id=mt) == set(inside)
    assert tenant.runtime_ids(model_template_id=own) == {direct}
    assert tenant.runtime_ids(model_configure=True) == set(inside) | {direct}
    assert tenant.runtime_ids(model_configure=False) == {outside, loose}

    cfg = model_config(tenant, inside[0])
    assert cfg["ModelTemplateId"] == mt and cfg["ModelTemplateName"] == "group models", cfg
    assert cfg["ModelTemplateRefType"] == "ResourceGroup" and cfg["ResourceGroupId"] == rg, cfg
    cfg = model_config(tenant, direct)
    assert cfg["ModelTemplateId"] == own and cfg["ModelTemplateRefType"] == "Runtime", cfg
    assert cfg["ResourceGroupId"] == rg, cfg

    # a direct assignment of a runtime that inherits the same group is fine, and removing it falls back
    failed(remove_rt(tenant, mt, [inside[0]])["Data"][0], "Runtime.ModelTemplateNotAssigned", 400)
    ok_items(remove_rt(tenant, own, [direct]), [direct])
    assert_effective(rows(tenant, [direct])[direct], mt, "group models")
    assert model_config(tenant, direct)["ModelTemplateRefType"] == "ResourceGroup"

    # the Hermes runtime of the group follows a Hermes binding only, which leaves the OpenClaw one alone
    bind(tenant, hermes_mt, rg)
    assert_effective(rows(tenant, [hermes], provider="HermesAgent")[hermes], hermes_mt, "hermes models")
    assert model_config(tenant, hermes, provider="HermesAgent")["ModelTemplateId"] == hermes_mt
    assert tenant.runtime_ids(model_template_id=mt) == set(inside) | {direct}
    assert bound_groups(tenant, mt) == {rg} and bound_groups(tenant, hermes_mt) == {rg}

    # moving in picks the group up, moving out drops it
    move(tenant, rg, [outside])
    assert_effective(rows(tenant, [outside])[outside], mt, "group models")
    move(tenant, rg_other, [inside[1]])
    assert_effective(rows(tenant, [inside[1]])[inside[1]], None, None)
    cfg = model_config(tenant, inside[1])
    assert cfg.get("ModelTemplateId") is None and cfg.get("ResourceGroupId") == rg_other, cfg
    assert tenant.runtime_ids(model_template_id=mt) == {inside[0], direct, outside}

    # a new binding of the same agent product replaces the old one
    replacement = mdl.create_group(name="replacement")
    bind(tenant, replacement, rg)
    assert bound_groups(tenant, mt) == set()
    assert bound_groups(tenant, replacement) == {rg}
    assert bound_groups(tenant, hermes_mt) == {rg}
    assert tenant.runtime_ids(model_template_id=replacement) == {inside[0], direct, outside}
    assert tenant.runtime_ids(model_template_id=mt) == set()
    # binding again is harmless
    bind(tenant, replacement, rg)
    assert bound_groups(tenant, replacement) == {rg}


def test_config_resource_group_model_template_errors(tenant):
    mdl = Models(tenant)
    mt = mdl.create_group()
    rg = tenant.create_group("dl-errs")
    expect_error(lambda: bind(tenant, MISSING_MT, rg), "InvalidModelTemplateId.NotFound", 404, names=MISSING_MT)
    expect_error(lambda: bind(tenant, mt, MISSING_RG), "EntityNotExists.ResourceGroup", 404, names=MISSING_RG)
    expect_error(lambda: bind(tenant, None, rg), "MissingParameter", 400, names="ModelTemplateId")
    expect_error(lambda: bind(tenant, mt, None), "MissingParameter", 400, names="ResourceGroupId")
    assert bound_groups(tenant, mt) == set()


def test_remove_resource_group_model_template(tenant):
    mdl = Models(tenant)
    mt = mdl.create_group(name="bound")
    other = mdl.create_group(name="other")
    rg1, rg2, rg3 = (tenant.create_group(n) for n in ("dl-un-1", "dl-un-2", "dl-un-3"))
    rt = tenant.create(image=IMG_UBUNTU, amount=1, name="dl-un", rg=rg1)[0]
    bind(tenant, mt, rg1)
    bind(tenant, mt, rg2)
    bind(tenant, other, rg3)
    assert_effective(rows(tenant, [rt])[rt], mt, "bound")

    body = unbind(tenant, mt, [rg1, MISSING_RG, rg3])
    data = body["Data"]
    assert [d["ResourceGroupId"] for d in data] == [rg1, MISSING_RG, rg3] and body["TotalCount"] == 3, body
    # Issue 11 (validation gaps): success items lacked the Code every other item carries.
    assert data[0]["Success"] is True and data[0]["Code"] == "200" and "Message" not in data[0], data
    assert data[1]["Success"] is False and data[1]["Code"] == "EntityNotExists.ResourceGroup", data
    assert data[2]["Success"] is False and data[2]["Code"] == "ModelTemplate.NotBound", data
    assert data[1].get("Message") and data[2].get("Message"), data

    assert bound_groups(tenant, mt) == {rg2}
    assert bound_groups(tenant, other) == {rg3}
    assert_effective(rows(tenant, [rt])[rt], None, None)
    assert model_config(tenant, rt).get("ModelTemplateId") is None
    # unbinding again: not bound any more
    again = unbind(tenant, mt, [rg1])["Data"][0]
    assert again["Success"] is False and again["Code"] == "ModelTemplate.NotBound", again
    # an unknown group is bound nowhere
    item = unbind(tenant, MISSING_MT, [rg2])["Data"][0]
    assert item["Success"] is False and item["Code"] == "ModelTemplate.NotBound", item
    assert bound_groups(tenant, mt) == {rg2}

    # ... and the HttpStatusCode of the runtime results, which only raw clients see (the SDK's model
    # of these items has no such field)
    bind(tenant, other, rg1)
    resp = raw_v3(tenant.server, "RemoveResourceGroupModelTemplate", V_APPSTREAM,
                  {"ModelTemplateId": other, "ResourceGroupIds": [rg1, MISSING_RG, rg2]}, key=tenant.key)
    items = expect_ok(resp)["Data"]
    assert [(i["Success"], i["Code"], i["HttpStatusCode"]) for i in items] == [
        (True, "200", 200), (False, "EntityNotExists.ResourceGroup", 404), (False, "ModelTemplate.NotBound", 400)
    ], items
    assert bound_groups(tenant, other) == {rg3}


def test_list_model_template_resource_group(tenant):
    mdl = Models(tenant)
    mt = mdl.create_group()
    groups = [tenant.create_group(f"dl-ls-{i}") for i in range(5)]
    unbound = tenant.create_group("dl-ls-none")
    for g in groups:
        bind(tenant, mt, g)

    page = bindings_page(tenant, mt)
    assert page["TotalCount"] == 5 and {d["ResourceGroupId"] for d in page["Data"]} == set(groups), page
    assert all(d["ResourceGroupId"].startswith("rg-") for d in page["Data"]), page

    first = bindings_page(tenant, mt, page_number=1, page_size=2)
    assert first["TotalCount"] == 5 and first["PageNumber"] == 1 and first["PageSize"] == 2, first
    assert bindings_page(tenant, mt, page_number=0, page_size=2)["Data"] == first["Data"]
    second = bindings_page(tenant, mt, page_number=2, page_size=2)
    third = bindings_page(tenant, mt, page_number=3, page_size=2)
    assert len(first["Data"]) == 2 and len(second["Data"]) == 2 and len(third["Data"]) == 1
    seen = [d["ResourceGroupId"] for d in first["Data"] + second["Data"] + third["Data"]]
    assert sorted(seen) == sorted(groups), seen
    assert bindings_page(tenant, mt, page_number=4, page_size=2)["Data"] in (None, [])

    filtered = bindings_page(tenant, mt, resource_group_ids=[groups[1], groups[3], unbound])
    assert filtered["TotalCount"] == 2
    assert {d["ResourceGroupId"] for d in filtered["Data"]} == {groups[1], groups[3]}
    assert bound_groups(tenant, mt, resource_group_ids=[unbound]) == set()
    assert bound_groups(tenant, mdl.create_group(name="empty")) == set()

    for bad in (0, 101):
        expect_error(lambda bad=bad: bindings_page(tenant, mt, page_size=bad), "InvalidParameter", 400,
                     names="PageSize")
    expect_error(lambda: bindings_page(tenant, MISSING_MT), "InvalidModelTemplateId.NotFound", 404)
    expect_error(lambda: bindings_page(tenant, None), "MissingParameter", 400, names="ModelTemplateId")


# --------------------------------------------------------------------------------------------------
# the effective configuration of a runtime


def test_get_runtime_model_config(tenant):
    mdl = Models(tenant)
    mt = mdl.create_group(name="effective")
    p1 = mdl.create_provider(mt, "bailian", {"apiKey": PLANTED_KEY}, name="Bailian main")
    p2 = mdl.create_provider(mt, "provider-own", {"baseUrl": "https://llm.example.com/v1", "apiKey": PLANTED_KEY})
    p3 = mdl.create_provider(mt, "moonshot", {"apiKey": PLANTED_KEY})  # no models
    mdl.add_models(p1, [{"llm_code": "qwen3.6-plus", "name": "Qwen3.6-Plus", "config": json.dumps(QWEN_CONFIG),
                         "is_default_model": True, "description": "flagship"},
                        {"llm_code": "qwen-turbo"}])
    mdl.add_models(p2, [{"llm_code": "own-model", "description": "in house"}])
    rg = tenant.create_group("dl-get")
    rid = tenant.create(image=IMG_UBUNTU, amount=1, name="dl-get", rg=rg)[0]
    loose = tenant.create(image=IMG_UBUNTU, amount=1, name="dl-get-loose")[0]
    hermes = tenant.create(bundle=BUNDLE_HERMES, amount=1, name="dl-get-h")[0]

    # nothing assigned yet
    empty = model_config(tenant, loose)
    assert empty.get("ModelTemplateId") is None and not empty.get("ModelProviderList"), empty
    assert empty.get("DefaultModel") is None, empty

    ok_items(config_rt(tenant, mt, [rid]), [rid])
    cfg = model_config(tenant, rid)
    assert cfg["ModelTemplateId"] == mt and cfg["ModelTemplateName"] == "effective", cfg
    assert cfg["ModelTemplateRefType"] == "Runtime" and cfg["ResourceGroupId"] == rg, cfg
    assert cfg["DefaultModel"] == "bailian/qwen3.6-plus", cfg
    providers = {p["ProviderName"]: p for p in cfg["ModelProviderList"]}
    assert set(providers) == {"bailian", "provider-own", "moonshot"}, cfg
    assert providers["bailian"]["ModelProviderTemplateId"] == p1 and providers["bailian"]["Name"] == "Bailian main"
    assert providers["provider-own"]["ModelProviderTemplateId"] == p2
    assert providers["moonshot"]["ModelProviderTemplateId"] == p3
    assert not providers["moonshot"].get("LlmInfoList"), providers["moonshot"]
    assert {m["LlmCode"] for m in providers["bailian"]["LlmInfoList"]} == {"qwen3.6-plus", "qwen-turbo"}
    assert [m["LlmCode"] for m in providers["provider-own"]["LlmInfoList"]] == ["own-model"]

    listed = {m["LlmCode"]: m for m in mdl.models(model_template_id=mt)}
    for p in cfg["ModelProviderList"]:
        for m in p.get("LlmInfoList") or []:
            assert "RiskType" not in m, m
            ref = listed[m["LlmCode"]]
            for field in ("Name", "Description", "Features", "InferenceMetadata", "CreditMultiplier",
                          "PublishedTime"):
                assert m.get(field) == ref.get(field), (field, m, ref)
    q = {m["LlmCode"]: m for m in providers["bailian"]["LlmInfoList"]}["qwen3.6-plus"]
    assert q["Name"] == "Qwen3.6-Plus" and q["Description"] == "flagship", q
    assert q["Features"] == ["function-calling"], q
    assert q["InferenceMetadata"] == {"RequestModality": ["Text", "Image"], "ResponseModality": ["Text"]}, q
    assert q["CreditMultiplier"] == {"Min": 1.0, "Max": 2.5}, q

    risky = model_config(tenant, rid, risk=True)
    for p in risky["ModelProviderList"]:
        for m in p.get("LlmInfoList") or []:
            assert m["RiskType"] == "Normal", m
    assert model_config(tenant, rid, risk=False) == cfg

    # without a default model
    mdl.update_group(mt, config="{}")
    assert model_config(tenant, rid).get("DefaultModel") is None

    # a runtime without a resource group
    ok_items(config_rt(tenant, mt, [loose]), [loose])
    cfg = model_config(tenant, loose)
    assert cfg["ModelTemplateId"] == mt and cfg.get("ResourceGroupId") is None, cfg

    # the API key is nowhere in the answer
    for risk in (None, True):
        params = {"AgentProvider": "OpenClaw", "RuntimeId": rid, "RuntimeType": "CloudDesktop"}
        if risk:
            params["IncludeRiskInfo"] = "true"
        resp = raw_v3(tenant.server, "GetRuntimeModelConfig", V_APPSTREAM, params, key=tenant.key)
        body = expect_ok(resp)
        assert body["Data"]["ModelTemplateId"] == mt, body
        for needle in (PLANTED_KEY, "5a5a5a5a7e7e"):
            assert needle not in resp.text, resp.text

    # errors
    expect_error(lambda: model_config(tenant, MISSING_RT), "InvalidRuntimeId.NotFound", 404, names=MISSING_RT)
    expect_error(lambda: model_config(tenant, rid, provider="HermesAgent"), "InvalidAgentProvider.Mismatch", 400)
    expect_error(lambda: model_config(tenant, hermes, provider="OpenClaw"), "InvalidAgentProvider.Mismatch", 400)
    hermes_cfg = model_config(tenant, hermes, provider="HermesAgent")
    assert hermes_cfg.get("ModelTemplateId") is None, hermes_cfg
    expect_error(lambda: tenant.appstream.get_runtime_model_config(a().GetRuntimeModelConfigRequest(
        agent_provider="OpenClaw", runtime_type="CloudDesktop")), "MissingParameter", 400, names="RuntimeId")
    # issue 11 (validation gaps): values outside the documented sets are refused as such
    expect_error(lambda: model_config(tenant, rid, provider="Nope"), "InvalidParameter", 400, names="AgentProvider")
    expect_error(lambda: tenant.appstream.get_runtime_model_config(a().GetRuntimeModelConfigRequest(
        agent_provider="OpenClaw", agent_platform="MOBILE", runtime_id=rid, runtime_type="CloudDesktop")),
        "InvalidParameter", 400, names="AgentPlatform")


# --------------------------------------------------------------------------------------------------
# deleting what is delivered


def test_deleting_a_delivered_model_group(tenant):
    mdl = Models(tenant)
    mt = mdl.create_group()
    rg = tenant.create_group("dl-del")
    rid = tenant.create(image=IMG_UBUNTU, amount=1, name="dl-del")[0]
    ok_items(config_rt(tenant, mt, [rid]), [rid])
    bind(tenant, mt, rg)

    expect_error(lambda: mdl.delete_group(mt), "DependencyViolation.Runtimes", 400, names="1 runtime")
    ok_items(remove_rt(tenant, mt, [rid]), [rid])
    expect_error(lambda: mdl.delete_group(mt), "DependencyViolation.ResourceGroups", 400, names="1 resource group")
    assert unbind(tenant, mt, [rg])["Data"][0]["Success"] is True
    mdl.delete_group(mt)
    assert mdl.groups(model_template_id_list=[mt]) == []
    expect_error(lambda: config_rt(tenant, mt, [rid]), "InvalidModelTemplateId.NotFound", 404)

    # with providers and models, everything must go first
    mt2 = mdl.create_group()
    mpt = mdl.create_provider(mt2, "bailian", {"apiKey": "sk-bailian-aaaa1111bbbb2222"})
    llmt = mdl.add_models(mpt, [{"llm_code": "qwen-max"}])["LlmTemplateIds"][0]
    ok_items(config_rt(tenant, mt2, [rid]), [rid])
    exc = expect_error_any(lambda: mdl.delete_group(mt2), ("DependencyViolation.Runtimes",
                                                           "DependencyViolation.ProviderTemplates"))
    assert exc
    ok_items(remove_rt(tenant, mt2, [rid]), [rid])
    mdl.delete_model(llmt)
    mdl.delete_provider(mpt)
    mdl.delete_group(mt2)


def test_deleting_a_bound_resource_group(tenant):
    mdl = Models(tenant)
    mt = mdl.create_group()
    rg, keep = tenant.create_group("dl-rg-gone"), tenant.create_group("dl-rg-keep")
    bind(tenant, mt, rg)
    bind(tenant, mt, keep)
    assert delete_rg(tenant, rg)["ResourceGroup"]["Status"] == "PendingDelete"
    assert bound_groups(tenant, mt) == {keep}
    assert bindings_page(tenant, mt)["TotalCount"] == 1
    failed_item = unbind(tenant, mt, [rg])["Data"][0]
    assert failed_item["Success"] is False and failed_item["Code"] == "EntityNotExists.ResourceGroup", failed_item
    unbind(tenant, mt, [keep])
    mdl.delete_group(mt)


# --------------------------------------------------------------------------------------------------
# tenants and restarts


def test_tenants_cannot_deliver_to_each_other(server, tenant):
    mdl = Models(tenant)
    mt = mdl.create_group()
    rg = tenant.create_group("dl-iso")
    rid = tenant.create(image=IMG_UBUNTU, amount=1, name="dl-iso", rg=rg)[0]
    ok_items(config_rt(tenant, mt, [rid]), [rid])
    bind(tenant, mt, rg)

    b = other_tenant(server)
    b_mdl = Models(b)
    b_mt = b_mdl.create_group()
    b_rg = b.create_group("dl-iso-b")
    b_rid = b.create(image=IMG_UBUNTU, amount=1, name="dl-iso-b")[0]

    expect_error(lambda: config_rt(b, mt, [b_rid]), "InvalidModelTemplateId.NotFound", 404)
    failed(remove_rt(b, mt, [rid])["Data"][0], "Runtime.NotFound", 404)
    expect_error(lambda: bind(b, mt, b_rg), "InvalidModelTemplateId.NotFound", 404)
    expect_error(lambda: bind(b, b_mt, rg), "EntityNotExists.ResourceGroup", 404)
    item = unbind(b, mt, [rg])["Data"][0]
    assert item["Success"] is False and item["Code"] == "EntityNotExists.ResourceGroup", item
    expect_error(lambda: bindings_page(b, mt), "InvalidModelTemplateId.NotFound", 404)
    expect_error(lambda: model_config(b, rid), "InvalidRuntimeId.NotFound", 404)

    body = config_rt(b, b_mt, [rid, b_rid])
    failed(body["Data"][0], "Runtime.NotFound", 404)
    ok_items({"Data": body["Data"][1:]}, [b_rid])
    failed(remove_rt(b, b_mt, [rid])["Data"][0], "Runtime.NotFound", 404)
    item = unbind(b, b_mt, [rg])["Data"][0]
    assert item["Success"] is False and item["Code"] == "EntityNotExists.ResourceGroup", item
    assert b.runtime_ids(model_template_id=mt) == set()
    assert b.runtime_ids(model_template_id=b_mt) == {b_rid}

    # the first tenant's delivery is untouched
    assert_effective(rows(tenant, [rid])[rid], mt, mdl.group(mt)["Name"])
    assert bound_groups(tenant, mt) == {rg}
    assert model_config(tenant, rid)["ModelTemplateRefType"] == "Runtime"


def test_delivery_survives_a_restart(server_factory):
    srv = server_factory()
    api = srv.api()
    mdl = Models(api)
    mt = mdl.create_group(name="durable direct")
    inherited_mt = mdl.create_group(name="durable bound")
    mpt = mdl.create_provider(inherited_mt, "bailian", {"apiKey": PLANTED_KEY})
    mdl.add_models(mpt, [{"llm_code": "qwen-max", "is_default_model": True}])
    rg = api.create_group("dl-durable")
    direct = api.create(image=IMG_UBUNTU, amount=1, name="dl-durable-d")[0]
    inherited = api.create(image=IMG_UBUNTU, amount=1, name="dl-durable-i", rg=rg)[0]
    ok_items(config_rt(api, mt, [direct]), [direct])
    bind(api, inherited_mt, rg)

    before_rows = rows(api, [direct, inherited])
    before_cfg = {r: model_config(api, r) for r in (direct, inherited)}
    before_bindings = bindings_page(api, inherited_mt)["Data"]
    assert_effective(before_rows[inherited], inherited_mt, "durable bound")
    assert before_cfg[inherited]["DefaultModel"] == "bailian/qwen-max"

    srv.restart()
    api = srv.api()
    mdl = Models(api)
    after_rows = rows(api, [direct, inherited])
    for r in (direct, inherited):
        for field in ("ModelConfigure", "ModelTemplateId", "ModelTemplateName"):
            assert after_rows[r].get(field) == before_rows[r].get(field), (field, before_rows[r], after_rows[r])
        assert model_config(api, r) == before_cfg[r]
    assert bindings_page(api, inherited_mt)["Data"] == before_bindings
    assert api.runtime_ids(model_template_id=mt) == {direct}
    assert api.runtime_ids(model_template_id=inherited_mt) == {inherited}
    expect_error(lambda: mdl.delete_group(mt), "DependencyViolation.Runtimes", 400)


def test_delivery_with_v2_signatures(tenant):
    """The same calls signed with the legacy V2 signer (flat RuntimeIds / ResourceGroupIds lists)."""
    v2 = tenant.server.api(tenant.key, v2=True)
    mdl = Models(v2)
    mt = mdl.create_group(name="v2 delivery")
    rg = v2.create_group("dl-v2")
    ids = v2.create(image=IMG_UBUNTU, amount=2, name="dl-v2")
    ok_items(config_rt(v2, mt, ids), ids)
    bind(v2, mt, rg)
    assert bound_groups(v2, mt, resource_group_ids=[rg]) == {rg}
    assert model_config(v2, ids[0])["ModelTemplateRefType"] == "Runtime"
    ok_items(remove_rt(v2, mt, ids), ids)
    assert [d["Success"] for d in unbind(v2, mt, [rg])["Data"]] == [True]
    assert v2.runtime_ids(model_template_id=mt) == set()
