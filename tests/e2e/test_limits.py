"""The cloud's limits per field (issue 11: unbounded strings and lists): every string and list of a
served action has a length limit, checked while decoding, and a refusal names the wire path of the
offending parameter (`Tag.3.Value`). The caps are listed in docs/compatibility.md."""

from __future__ import annotations

import json

from amc_e2e import (
    IMG_UBUNTU,
    REGION,
    V_APPSTREAM,
    V_ECD,
    expect_error,
    expect_raw_error,
    raw_v3,
)
from test_models import Models


def a():
    from alibabacloud_appstream_center20210901 import models

    return models


def e():
    from alibabacloud_ecd20200930 import models

    return models


def test_an_attacker_s_oversized_values_and_lists_are_refused_by_name(tenant):
    # a 1 MB tag value (in a form body: the query of a request head is bounded before any decoding)
    resp = raw_v3(tenant.server, "CreateDesktops", V_ECD,
                  {"RegionId": REGION, "DesktopAttachment": json.dumps({"ImageId": IMG_UBUNTU}),
                   "Tag": [{"Key": "k", "Value": "v" * (1024 * 1024)}]}, key=tenant.key, in_body=True)
    expect_raw_error(resp, "InvalidParameter", 400, names="Tag.1.Value")
    # a JSON DesktopIds of 200,000 ids
    ids = json.dumps([f"ecd-{i:017d}" for i in range(200_000)])
    resp = raw_v3(tenant.server, "ListDesktopAgentRuntime", V_APPSTREAM,
                  {"AgentProvider": "OpenClaw", "DesktopIds": ids}, key=tenant.key, in_body=True)
    expect_raw_error(resp, "InvalidParameter", 400, names="DesktopIds")
    # 500 tags, through the SDK, on the call that creates and on the one that filters
    many = {f"k{i}": "v" for i in range(500)}
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, tags=many), "InvalidParameter", 400, names="Tag")
    tags = [e().DescribeDesktopsRequestTag(key=k, value=v) for k, v in many.items()]
    expect_error(lambda: tenant.describe(tag=tags), "InvalidParameter", 400, names="Tag")
    assert tenant.desktops() == []


def test_tags(tenant):
    ok = {f"k{i}": "v" * 256 for i in range(20)}
    ok["x" * 128] = ""
    ok.pop("k0")
    (rid,) = tenant.create(image=IMG_UBUNTU, tags=ok)
    assert {t["Key"]: t["Value"] for t in tenant.desktop(rid)["Tags"]} == ok
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, tags={**ok, "one-more": "v"}), "InvalidParameter", 400,
                 names="Tag")
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, tags={"a": "v", "b": "v", "c": "v" * 257}),
                 "InvalidParameter", 400, names="Tag.3.Value")
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, tags={"a": "v", "k" * 129: "v"}), "InvalidParameter", 400,
                 names="Tag.2.Key")
    # as a filter: at most 20, each within the same lengths
    filters = [e().DescribeDesktopsRequestTag(key=k, value=v) for k, v in ok.items()]
    assert [d["DesktopId"] for d in tenant.desktops(tag=filters)] == [rid]
    expect_error(lambda: tenant.describe(tag=filters + [e().DescribeDesktopsRequestTag(key="k0")]),
                 "InvalidParameter", 400, names="Tag")
    expect_error(lambda: tenant.describe(tag=[e().DescribeDesktopsRequestTag(key="k1", value="v" * 257)]),
                 "InvalidParameter", 400, names="Tag.1.Value")
    from alibabacloud_resourcemanager20200331 import models as r

    expect_error(lambda: tenant.rm.create_resource_group(r.CreateResourceGroupRequest(
        name="tagged", display_name="tagged", tag=[r.CreateResourceGroupRequestTag(key=f"k{i}", value="v")
                                                  for i in range(21)])), "InvalidParameter", 400, names="Tag")
    expect_error(lambda: tenant.rm.list_resource_groups(r.ListResourceGroupsRequest(
        tag=[r.ListResourceGroupsRequestTag(key="k", value="v" * 257)])), "InvalidParameter", 400,
        names="Tag.1.Value")


def test_desktop_parameters(tenant):
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, name="n" * 65), "InvalidParameter", 400, names="DesktopName")
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, users=["alice", "u" * 65]), "InvalidParameter", 400,
                 names="EndUserId.2")
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, users=[f"u{i}" for i in range(101)]), "InvalidParameter",
                 400, names="EndUserId")
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, rg="rg-" + "x" * 62), "InvalidParameter", 400,
                 names="ResourceGroupId")
    expect_error(lambda: tenant.create_raw(image="m-" + "x" * 63), "InvalidParameter", 400,
                 names="DesktopAttachment.ImageId")
    (rid,) = tenant.create(image=IMG_UBUNTU, name="n" * 64, users=["u" * 64])
    ids = [rid] + [f"ecd-x{i:016d}" for i in range(100)]
    for call in (tenant.stop, tenant.start, tenant.reboot, tenant.delete):
        expect_error(lambda call=call: call(ids), "InvalidParameter", 400, names="DesktopId")
    expect_error(lambda: tenant.desktops(desktop_id=ids), "InvalidParameter", 400, names="DesktopId")
    expect_error(lambda: tenant.desktops(desktop_id=[rid, "ecd-" + "y" * 61]), "InvalidParameter", 400,
                 names="DesktopId.2")
    expect_error(lambda: tenant.runtimes_page(agent_provider="OpenClaw", desktop_ids=ids), "InvalidParameter", 400,
                 names="DesktopIds")
    expect_error(lambda: tenant.runtimes_page(agent_provider="O" * 65), "InvalidParameter", 400,
                 names="AgentProvider")
    assert tenant.status(rid) == "Running"


def test_model_parameters(tenant):
    mdl = Models(tenant)
    expect_error(lambda: mdl.create_group(name="n" * 65), "InvalidParameter", 400, names="Name")
    expect_error(lambda: mdl.create_group(description="d" * 1025), "InvalidParameter", 400, names="Description")
    mt = mdl.create_group(name="n" * 64, description="d" * 1024)
    expect_error(lambda: mdl.update_group(mt, config=json.dumps({"x": "y" * 16_384})), "InvalidParameter", 400,
                 names="Config")
    expect_error(lambda: mdl.create_provider(mt, "moonshot", {"apiKey": "k" * 16_384}), "InvalidParameter", 400,
                 names="Config")
    mpt = mdl.create_provider(mt, "moonshot", {"apiKey": "sk-limit-0123456789"}, name="p" * 64)
    expect_error(lambda: mdl.update_provider(mpt, config={"api_key": "k" * 4097}), "InvalidParameter", 400,
                 names="Config.ApiKey")
    expect_error(lambda: mdl.update_provider(mpt, name="p" * 65), "InvalidParameter", 400, names="Name")
    items = [{"llm_code": "m1"}, {"llm_code": "m2", "name": "n" * 129}]
    expect_error(lambda: mdl.add_models(mpt, items), "InvalidParameter", 400, names="LlmTemplateItems.2.Name")
    expect_error(lambda: mdl.add_models(mpt, [{"llm_code": f"m{i}"} for i in range(101)]), "InvalidParameter",
                 400, names="LlmTemplateItems")
    assert mdl.models(provider_template_id=mpt) == []
    expect_error(lambda: mdl.groups(model_template_id_list=[mt] * 101), "InvalidParameter", 400,
                 names="ModelTemplateIdList")
    expect_error(lambda: mdl.groups(name="n" * 129), "InvalidParameter", 400, names="Name")


def test_channel_and_delivery_parameters(tenant):
    (rid,) = tenant.create(image=IMG_UBUNTU)
    cfg = json.dumps({"appKey": "k", "appSecret": "s", "pad": "x" * 16_384})

    def channel(ids, config, **kw):
        return tenant.appstream.config_runtime_channel(a().ConfigRuntimeChannelRequest(
            agent_provider="OpenClaw", code="dingtalk-connector", config=config, config_mode="Custom",
            runtime_ids=ids, runtime_type="CloudDesktop", **kw))

    expect_error(lambda: channel([rid], cfg), "InvalidParameter", 400, names="Config")
    expect_error(lambda: channel([rid] * 101, "{}"), "InvalidParameter", 400, names="RuntimeIds")
    expect_error(lambda: channel([rid, "ecd-" + "z" * 61], "{}"), "InvalidParameter", 400, names="RuntimeIds.2")
    expect_error(lambda: channel([rid], "{}", name="n" * 65), "InvalidParameter", 400, names="Name")
    mt = Models(tenant).create_group()
    expect_error(lambda: tenant.appstream.remove_resource_group_model_template(
        a().RemoveResourceGroupModelTemplateRequest(model_template_id=mt,
                                                    resource_group_ids=[f"rg-{i}" for i in range(101)])),
        "InvalidParameter", 400, names="ResourceGroupIds")
    expect_error(lambda: tenant.appstream.get_runtime_model_config(a().GetRuntimeModelConfigRequest(
        agent_provider="OpenClaw", runtime_id="ecd-" + "q" * 61, runtime_type="CloudDesktop")),
        "InvalidParameter", 400, names="RuntimeId")
