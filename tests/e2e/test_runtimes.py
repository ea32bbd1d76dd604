"""appstream-center 2021-09-01 ListDesktopAgentRuntime over desktops made with ecd CreateDesktops."""

from __future__ import annotations

import pytest

from amc_e2e import (
    BUNDLE_HERMES,
    BUNDLE_OPENCLAW,
    IMG_UBUNTU,
    IMG_WINDOWS,
    REGION,
    V_APPSTREAM,
    expect_error,
    expect_raw_error,
    raw_v3,
)


@pytest.fixture
def fleet(tenant):
    """A small fleet: 3 Ubuntu OpenClaw (rg-1, users), 1 Windows OpenClaw (rg-2, no user, stopped),
    1 JVS Claw (rg-1), 2 Hermes (no rg)."""
    rg1, rg2 = tenant.create_group("fleet-1"), tenant.create_group("fleet-2")
    f = {
        "rg1": rg1,
        "rg2": rg2,
        "ubuntu": tenant.create(image=IMG_UBUNTU, amount=3, name="fl-ubuntu", users=["alice"], rg=rg1),
        "windows": tenant.create(image=IMG_WINDOWS, amount=1, name="fl-windows", rg=rg2),
        "jvs": tenant.create(bundle=BUNDLE_OPENCLAW, amount=1, name="fl-jvs", users=["bob"], rg=rg1),
        "hermes": tenant.create(bundle=BUNDLE_HERMES, amount=2, name="fl-hermes", users=["alice", "carol"]),
    }
    tenant.stop(f["windows"])
    f["openclaw"] = f["ubuntu"] + f["windows"] + f["jvs"]
    return f


def ids(rows):
    return sorted(r["DesktopId"] for r in rows)


def test_agent_provider_required(tenant):
    expect_error(lambda: tenant.runtimes_page(), "MissingParameter", 400, names="AgentProvider")
    expect_raw_error(raw_v3(tenant.server, "ListDesktopAgentRuntime", V_APPSTREAM, {"PageSize": 10}, key=tenant.key),
                     "MissingParameter", 400, names="AgentProvider")


def test_item_shape(tenant, fleet):
    rows = tenant.runtimes(desktop_ids=fleet["ubuntu"] + fleet["windows"])
    assert ids(rows) == sorted(fleet["ubuntu"] + fleet["windows"])
    by_id = {r["DesktopId"]: r for r in rows}
    for did in fleet["ubuntu"]:
        r = by_id[did]
        assert r["DesktopName"].startswith("fl-ubuntu"), r
        assert r["DesktopStatus"] == "Running", r
        assert r["ResourceId"] == did, r
        assert r["OsType"] == "Linux", r
        assert r["RegionId"] == REGION, r
        assert r["AuthUsers"] == ["alice"], r
        assert r["HasAuthUser"] is True, r
        assert r["ResourceGroup"]["ResourceGroupId"] == fleet["rg1"], r
        assert r["ModelConfigure"] is False, r
        assert r["ChannelConfigure"] is False, r
        assert "RiskInfo" not in r, r
        (inst,) = r["AgentInstanceInfoList"]
        assert inst["AgentProvider"] == "OpenClaw", r
        assert inst["AgentPlatform"] == "ENTERPRISE", r
        assert inst["AgentInstanceStatus"] == "Running", r
        assert inst["AgentInstanceVersion"], r
        assert inst["DeploymentSource"], r
        assert inst["ModelConfigure"] is False, r
        assert inst["ChannelConfigure"] is False, r
    w = by_id[fleet["windows"][0]]
    assert w["DesktopStatus"] == "Stopped" and w["OsType"] == "Windows", w
    assert w["HasAuthUser"] is False and not w.get("AuthUsers"), w
    assert w["ResourceGroup"]["ResourceGroupId"] == fleet["rg2"], w
    # desktop status agrees with DescribeDesktops
    for d in tenant.desktops(desktop_id=fleet["ubuntu"] + fleet["windows"]):
        assert by_id[d["DesktopId"]]["DesktopStatus"] == d["DesktopStatus"]


def test_provider_and_platform(tenant, fleet):
    assert ids(tenant.runtimes(agent_provider="OpenClaw")) == sorted(fleet["openclaw"])
    assert ids(tenant.runtimes(agent_provider="HermesAgent")) == sorted(fleet["hermes"])
    assert tenant.runtimes(agent_provider="AgenticComputer") == []
    assert ids(tenant.runtimes(agent_platform="ENTERPRISE")) == sorted(fleet["ubuntu"] + fleet["windows"])
    assert ids(tenant.runtimes(agent_platform="ENTERPRISE_JVS")) == sorted(fleet["jvs"])
    assert ids(tenant.runtimes(agent_provider="HermesAgent", agent_platform="ENTERPRISE_JVS")) == sorted(fleet["hermes"])
    assert tenant.runtimes(agent_provider="HermesAgent", agent_platform="ENTERPRISE") == []
    for r in tenant.runtimes(agent_provider="HermesAgent"):
        assert [i["AgentProvider"] for i in r["AgentInstanceInfoList"]] == ["HermesAgent"]


def test_id_name_status_filters(tenant, fleet):
    u = fleet["ubuntu"]
    assert ids(tenant.runtimes(desktop_ids=[u[0], u[2]])) == sorted([u[0], u[2]])
    assert ids(tenant.runtimes(resource_ids=[u[1]])) == [u[1]]
    assert tenant.runtimes(desktop_ids=fleet["hermes"]) == []  # wrong provider
    names = {r["DesktopId"]: r["DesktopName"] for r in tenant.runtimes()}
    assert ids(tenant.runtimes(desktop_names=[names[u[0]]])) == sorted(i for i, n in names.items() if n == names[u[0]])
    assert ids(tenant.runtimes(desktop_names=[names[fleet["jvs"][0]]])) == fleet["jvs"]
    assert tenant.runtimes(desktop_names=["no-such-name"]) == []
    assert ids(tenant.runtimes(desktop_statuses=["Stopped"])) == fleet["windows"]
    assert ids(tenant.runtimes(desktop_statuses=["Running"])) == sorted(u + fleet["jvs"])
    assert ids(tenant.runtimes(desktop_statuses=["Running", "Stopped"])) == sorted(fleet["openclaw"])
    assert tenant.runtimes(desktop_statuses=["Pending"]) == []


def test_user_and_group_filters(tenant, fleet):
    assert ids(tenant.runtimes(auth_users=["alice"])) == sorted(fleet["ubuntu"])
    assert ids(tenant.runtimes(auth_users=["bob"])) == sorted(fleet["jvs"])
    assert ids(tenant.runtimes(auth_users=["alice", "bob"])) == sorted(fleet["ubuntu"] + fleet["jvs"])
    assert ids(tenant.runtimes(agent_provider="HermesAgent", auth_users=["carol"])) == sorted(fleet["hermes"])
    assert tenant.runtimes(auth_users=["nobody"]) == []
    assert ids(tenant.runtimes(has_auth_user=True)) == sorted(fleet["ubuntu"] + fleet["jvs"])
    assert ids(tenant.runtimes(has_auth_user=False)) == fleet["windows"]
    assert ids(tenant.runtimes(resource_group_id=fleet["rg1"])) == sorted(fleet["ubuntu"] + fleet["jvs"])
    assert ids(tenant.runtimes(resource_group_id=fleet["rg2"])) == fleet["windows"]
    assert tenant.runtimes(resource_group_id="rg-nope") == []


def test_instance_filters(tenant, fleet):
    every = sorted(fleet["openclaw"])
    rows = tenant.runtimes()
    versions = {r["AgentInstanceInfoList"][0]["AgentInstanceVersion"] for r in rows}
    sources = {r["AgentInstanceInfoList"][0]["DeploymentSource"] for r in rows}
    assert ids(tenant.runtimes(agent_instance_versions=sorted(versions))) == every
    assert tenant.runtimes(agent_instance_versions=["0.0.0-none"]) == []
    (source,) = sources
    assert ids(tenant.runtimes(deployment_source=source)) == every
    assert tenant.runtimes(deployment_source="NoSuchSource") == []
    running = [r["DesktopId"] for r in rows if r["AgentInstanceInfoList"][0]["AgentInstanceStatus"] == "Running"]
    assert set(fleet["ubuntu"] + fleet["jvs"]) <= set(running)
    assert ids(tenant.runtimes(agent_instance_statuses=["Running"])) == sorted(running)
    # a status nothing has: either no match or a clear InvalidParameter
    from Tea.exceptions import TeaException

    try:
        assert tenant.runtimes(agent_instance_statuses=["NoSuchStatus"]) == []
    except TeaException as exc:
        assert exc.code == "InvalidParameter" and "AgentInstanceStatuses" in exc.data["Message"], exc


def test_model_channel_risk_filters(tenant, fleet):
    every = sorted(fleet["openclaw"])
    assert ids(tenant.runtimes(model_configure=False)) == every
    assert tenant.runtimes(model_configure=True) == []
    assert ids(tenant.runtimes(channel_configure=False)) == every
    assert tenant.runtimes(channel_configure=True) == []
    assert tenant.runtimes(model_template_id="mt-doesnotexist") == []
    assert tenant.runtimes(biz_type=987654) == []
    assert set(ids(tenant.runtimes(biz_type=1))) <= set(every)

    with_risk = tenant.runtimes(include_risk_info=True)
    assert ids(with_risk) == every
    for r in with_risk:
        assert r["RiskInfo"] == {"ModelModified": False, "ChannelModified": False, "AgentUninstalled": False}, r
    for r in tenant.runtimes():
        assert "RiskInfo" not in r, r
    assert tenant.runtimes(include_risk_info=True, has_risk=True) == []
    assert ids(tenant.runtimes(include_risk_info=True, has_risk=False)) == every


def test_paging(tenant, fleet):
    total = len(fleet["openclaw"])  # 5
    first0 = tenant.runtimes_page(agent_provider="OpenClaw", page_number=0, page_size=2)
    first1 = tenant.runtimes_page(agent_provider="OpenClaw", page_number=1, page_size=2)
    assert ids(first0["Data"]) == ids(first1["Data"]) and len(first1["Data"]) == 2
    assert first1["TotalCount"] == total
    assert first1.get("PageSize") == 2

    seen = []
    for page in (1, 2, 3):
        body = tenant.runtimes_page(agent_provider="OpenClaw", page_number=page, page_size=2)
        assert body["TotalCount"] == total
        assert body.get("PageNumber") == page
        seen += [r["DesktopId"] for r in body.get("Data") or []]
    assert len(seen) == total and sorted(seen) == sorted(fleet["openclaw"])
    assert (tenant.runtimes_page(agent_provider="OpenClaw", page_number=4, page_size=2).get("Data") or []) == []

    # filters and TotalCount
    body = tenant.runtimes_page(agent_provider="OpenClaw", resource_group_id=fleet["rg1"], page_size=1, page_number=2)
    assert body["TotalCount"] == 4 and len(body["Data"]) == 1
    body = tenant.runtimes_page(agent_provider="HermesAgent", page_size=100)
    assert body["TotalCount"] == 2 and len(body["Data"]) == 2

    for bad in (0, 101, -1):
        expect_error(lambda bad=bad: tenant.runtimes_page(agent_provider="OpenClaw", page_size=bad),
                     "InvalidParameter", 400, names="PageSize")
    # the default page size is something sane
    assert tenant.runtimes_page(agent_provider="OpenClaw")["TotalCount"] == total


def test_v2_signed_list_with_flat_lists(tenant, fleet):
    v2 = tenant.server.api(tenant.key, v2=True)
    rows = v2.runtimes(desktop_ids=fleet["ubuntu"][:2], desktop_statuses=["Running"])
    assert ids(rows) == sorted(fleet["ubuntu"][:2])
