"""resourcemanager 2020-03-31 resource groups through the official SDK: Create/Get/List/Delete,
MoveResources of runtimes, and how runtimes report their group."""

from __future__ import annotations

import re

import pytest

from amc_e2e import (
    BUNDLE_HERMES,
    BUNDLE_OPENCLAW,
    IMG_UBUNTU,
    REGION,
    expect_error,
    wait_until,
)

RG_ID = re.compile(r"^rg-[a-z0-9]{17}$")


def rm():
    from alibabacloud_resourcemanager20200331 import models as r

    return r


def create(api, name, display_name=None, tags=None):
    r = rm()
    tag = [r.CreateResourceGroupRequestTag(key=k, value=v) for k, v in (tags or {}).items()] or None
    return api.rm.create_resource_group(
        r.CreateResourceGroupRequest(name=name, display_name=display_name or name, tag=tag)).body.to_map()


def get(api, group_id, include_tags=None):
    return api.rm.get_resource_group(
        rm().GetResourceGroupRequest(resource_group_id=group_id, include_tags=include_tags)).body.to_map()


def list_groups(api, **kw):
    body = api.rm.list_resource_groups(rm().ListResourceGroupsRequest(**kw)).body.to_map()
    assert body.get("RequestId"), body
    return body


def names(body):
    return sorted(g["Name"] for g in body["ResourceGroups"]["ResourceGroup"])


def delete(api, group_id):
    return api.rm.delete_resource_group(rm().DeleteResourceGroupRequest(resource_group_id=group_id)).body.to_map()


def move(api, group_id, resources):
    r = rm()
    items = [r.MoveResourcesRequestResources(resource_id=rid, region_id=region, service=service,
                                             resource_type=rtype)
             for rid, region, service, rtype in resources]
    return api.rm.move_resources(r.MoveResourcesRequest(resource_group_id=group_id, resources=items)).body.to_map()


def desktop(rid):
    return (rid, REGION, "ecd", "desktop")


def test_create_get_list_delete(tenant):
    body = create(tenant, "team-alpha", "Team Alpha", tags={"env": "prod", "cost": "42"})
    assert body.get("RequestId")
    g = body["ResourceGroup"]
    assert RG_ID.match(g["Id"]), g
    assert g["Name"] == "team-alpha" and g["DisplayName"] == "Team Alpha" and g["Status"] == "OK", g
    assert g["AccountId"] == tenant.info["AccountId"], g
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", g["CreateDate"]), g

    got = get(tenant, g["Id"])["ResourceGroup"]
    assert {k: got[k] for k in ("Id", "Name", "DisplayName", "Status", "AccountId", "CreateDate")} == \
        {k: g[k] for k in ("Id", "Name", "DisplayName", "Status", "AccountId", "CreateDate")}
    assert "Tags" not in got
    tagged = get(tenant, g["Id"], include_tags=True)["ResourceGroup"]
    assert sorted((t["TagKey"], t["TagValue"]) for t in tagged["Tags"]["Tag"]) == [("cost", "42"), ("env", "prod")]

    b = create(tenant, "team-beta", "Beta", tags={"env": "dev"})["ResourceGroup"]
    c = create(tenant, "other_name_is_bad".replace("_", "-"), "Gamma 研发")["ResourceGroup"]
    everything = list_groups(tenant)
    assert everything["TotalCount"] == 3 and everything["PageNumber"] == 1 and everything["PageSize"] == 10
    assert names(everything) == ["other-name-is-bad", "team-alpha", "team-beta"]
    assert names(list_groups(tenant, name="TEAM")) == ["team-alpha", "team-beta"]
    assert names(list_groups(tenant, display_name="研发")) == ["other-name-is-bad"]
    assert names(list_groups(tenant, resource_group_id=b["Id"])) == ["team-beta"]
    assert names(list_groups(tenant, resource_group_ids=[g["Id"], c["Id"]])) == ["other-name-is-bad", "team-alpha"]
    # ResourceGroupIds wins over ResourceGroupId
    assert names(list_groups(tenant, resource_group_id=b["Id"], resource_group_ids=[c["Id"]])) == ["other-name-is-bad"]
    assert names(list_groups(tenant, status="OK")) == names(everything)
    assert list_groups(tenant, status="PendingDelete")["TotalCount"] == 0
    by_tag = list_groups(tenant, tag=[rm().ListResourceGroupsRequestTag(key="env", value="dev")])
    assert names(by_tag) == ["team-beta"]
    assert by_tag["ResourceGroups"]["ResourceGroup"][0]["Tags"]["Tag"] == [{"TagKey": "env", "TagValue": "dev"}]
    assert names(list_groups(tenant, tag=[rm().ListResourceGroupsRequestTag(key="env")])) == ["team-alpha", "team-beta"]
    assert "Tags" not in list_groups(tenant)["ResourceGroups"]["ResourceGroup"][0]
    assert "Tags" in list_groups(tenant, include_tags=True)["ResourceGroups"]["ResourceGroup"][0]

    page2 = list_groups(tenant, page_number=2, page_size=2)
    assert page2["TotalCount"] == 3 and len(page2["ResourceGroups"]["ResourceGroup"]) == 1
    assert list_groups(tenant, page_number=5, page_size=2)["ResourceGroups"]["ResourceGroup"] == []

    gone = delete(tenant, b["Id"])
    assert gone.get("RequestId")
    assert gone["ResourceGroup"]["Id"] == b["Id"] and gone["ResourceGroup"]["Status"] == "PendingDelete", gone
    expect_error(lambda: get(tenant, b["Id"]), "EntityNotExists.ResourceGroup", 404, names=b["Id"])
    expect_error(lambda: delete(tenant, b["Id"]), "EntityNotExists.ResourceGroup", 404, names=b["Id"])
    assert names(list_groups(tenant)) == ["other-name-is-bad", "team-alpha"]
    # the name is free again
    assert create(tenant, "team-beta")["ResourceGroup"]["Id"] != b["Id"]


def test_create_validation(tenant):
    r = rm()
    call = lambda **kw: tenant.rm.create_resource_group(r.CreateResourceGroupRequest(**kw))  # noqa: E731
    expect_error(lambda: call(display_name="x"), "MissingParameter", 400, names="Name")
    expect_error(lambda: call(name="abc"), "MissingParameter", 400, names="DisplayName")
    for bad in ("a", "1abc", "-abc", "has space", "under_score", "x" * 51):
        expect_error(lambda bad=bad: call(name=bad, display_name="d"), "InvalidParameter", 400, names="Name")
    expect_error(lambda: call(name="okname", display_name="d" * 51), "InvalidParameter", 400, names="DisplayName")
    expect_error(lambda: call(name="okname", display_name="d", tag=[r.CreateResourceGroupRequestTag(key="aliyun:x", value="v")]),
                 "InvalidParameter", 400, names="Tag.1")
    expect_error(lambda: call(name="okname", display_name="d",
                              tag=[r.CreateResourceGroupRequestTag(key=f"k{i}", value="v") for i in range(21)]),
                 "InvalidParameter", 400, names="Tag")
    create(tenant, "dup-name")
    expect_error(lambda: create(tenant, "dup-name", "another"), "NameAlreadyExists.ResourceGroup", 400, names="dup-name")
    expect_error(lambda: get(tenant, "rg-doesnotexist0000"), "EntityNotExists.ResourceGroup", 404)
    expect_error(lambda: tenant.rm.get_resource_group(r.GetResourceGroupRequest()), "MissingParameter", 400,
                 names="ResourceGroupId")
    expect_error(lambda: list_groups(tenant, status="Bogus"), "InvalidParameter", 400, names="Status")
    expect_error(lambda: list_groups(tenant, page_size=101), "InvalidParameter", 400, names="PageSize")
    expect_error(lambda: list_groups(tenant, name="n" * 51), "InvalidParameter", 400, names="Name")


def test_create_desktops_needs_an_existing_group(tenant, server):
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, rg="rg-doesnotexist0000"),
                 "EntityNotExists.ResourceGroup", 404, names="ResourceGroupId")
    other_info = server.create_tenant()
    other = server.api((other_info["AccessKeyId"], other_info["AccessKeySecret"]))
    foreign = other.create_group("foreign")
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, rg=foreign), "EntityNotExists.ResourceGroup", 404,
                 names=foreign)
    assert tenant.desktops() == []


def test_runtimes_report_their_group(tenant):
    g = create(tenant, "fleet-x", "Fleet X")["ResourceGroup"]["Id"]
    ids = tenant.create(image=IMG_UBUNTU, amount=2, name="rg-rep", rg=g)
    loose = tenant.create(image=IMG_UBUNTU, amount=1, name="rg-loose")
    rows = {r["DesktopId"]: r for r in tenant.runtimes(desktop_ids=ids + loose)}
    for i in ids:
        assert rows[i]["ResourceGroup"] == {"ResourceGroupId": g, "ResourceGroupName": "Fleet X"}, rows[i]
    assert "ResourceGroup" not in rows[loose[0]], rows[loose[0]]
    filled = {d["DesktopId"]: d for d in tenant.desktops(desktop_id=ids + loose, fill_resource_group=True)}
    for i in ids:
        assert filled[i]["ResourceGroups"] == [{"Id": g, "Name": "Fleet X"}], filled[i]
    assert not filled[loose[0]].get("ResourceGroups")
    plain = tenant.desktops(desktop_id=ids)
    assert all(not d.get("ResourceGroups") for d in plain)


def test_move_resources(tenant):
    g1 = create(tenant, "move-from")["ResourceGroup"]["Id"]
    g2 = create(tenant, "move-to", "Destination")["ResourceGroup"]["Id"]
    oc = tenant.create(image=IMG_UBUNTU, amount=2, name="mv", rg=g1)
    jvs = tenant.create(bundle=BUNDLE_OPENCLAW, amount=1, name="mv-jvs")
    hermes = tenant.create(bundle=BUNDLE_HERMES, amount=1, name="mv-h", rg=g1)

    body = move(tenant, g2, [desktop(oc[0]), desktop(jvs[0]), ("ecd-doesnotexist0000", REGION, "ecd", "desktop"),
                             (oc[1], REGION, "ecs", "instance"), (hermes[0], "cn-shanghai", "ecd", "desktop")])
    assert body.get("RequestId")
    res = body["Responses"]
    assert [x["ResourceId"] for x in res] == [oc[0], jvs[0], "ecd-doesnotexist0000", oc[1], hermes[0]]
    assert [x["Status"] for x in res] == ["SUCCESS", "SUCCESS", "FAIL", "FAIL", "FAIL"], res
    assert res[2]["ErrorCode"] == "EntityNotExists.Resource" and "ecd-doesnotexist0000" in res[2]["ErrorMsg"], res
    assert res[3]["ErrorCode"] == "InvalidResourceType.NotSupported", res
    assert res[4]["ErrorCode"] == "EntityNotExists.Resource", res
    assert all("ErrorCode" not in x for x in res[:2]), res
    assert res[0]["Service"] == "ecd" and res[0]["ResourceType"] == "desktop" and res[0]["RegionId"] == REGION
    assert res[0]["RequestId"], res

    assert tenant.runtime_ids(resource_group_id=g2) == {oc[0], jvs[0]}
    assert tenant.runtime_ids(resource_group_id=g1) == {oc[1]}
    assert tenant.runtime_ids(agent_provider="HermesAgent", resource_group_id=g1) == {hermes[0]}
    rows = {r["DesktopId"]: r for r in tenant.runtimes(desktop_ids=[oc[0]])}
    assert rows[oc[0]]["ResourceGroup"] == {"ResourceGroupId": g2, "ResourceGroupName": "Destination"}

    # moving again into the same group succeeds and changes nothing
    again = move(tenant, g2, [desktop(oc[0])])["Responses"]
    assert [x["Status"] for x in again] == ["SUCCESS"]

    expect_error(lambda: move(tenant, "rg-doesnotexist0000", [desktop(oc[0])]), "EntityNotExists.ResourceGroup", 404)
    r = rm()
    expect_error(lambda: tenant.rm.move_resources(r.MoveResourcesRequest(resource_group_id=g2)),
                 "MissingParameter", 400, names="Resources")
    expect_error(lambda: move(tenant, g2, [desktop(oc[0])] * 11), "InvalidParameter", 400, names="Resources")
    expect_error(lambda: move(tenant, g2, [(oc[0], REGION, None, "desktop")]), "MissingParameter", 400,
                 names="Resources.1.Service")

    # a group that holds runtimes cannot go; once empty it can
    expect_error(lambda: delete(tenant, g1), "DeleteConflict.ResourceGroup.Resource", 400, names="2 runtime")
    move(tenant, g2, [desktop(oc[1]), desktop(hermes[0])])
    assert delete(tenant, g1)["ResourceGroup"]["Status"] == "PendingDelete"
    expect_error(lambda: delete(tenant, g2), "DeleteConflict.ResourceGroup.Resource", 400, names=g2)


def test_deleted_runtimes_do_not_hold_a_group(tenant):
    g = create(tenant, "short-lived")["ResourceGroup"]["Id"]
    ids = tenant.create(image=IMG_UBUNTU, amount=1, name="gone", rg=g)
    tenant.delete(ids)
    wait_until(lambda: tenant.status(ids[0]) == "Deleted", 30, what="desktop deleted")
    res = move(tenant, g, [desktop(ids[0])])["Responses"]
    assert res[0]["Status"] == "FAIL" and res[0]["ErrorCode"] == "EntityNotExists.Resource"
    assert delete(tenant, g)["ResourceGroup"]["Status"] == "PendingDelete"


def test_tenants_keep_their_groups_apart(server):
    a_info, b_info = server.create_tenant(), server.create_tenant()
    a = server.api((a_info["AccessKeyId"], a_info["AccessKeySecret"]))
    b = server.api((b_info["AccessKeyId"], b_info["AccessKeySecret"]))
    ga = create(a, "same-name")["ResourceGroup"]["Id"]
    gb = create(b, "same-name")["ResourceGroup"]["Id"]
    assert ga != gb
    assert [g["Id"] for g in list_groups(a)["ResourceGroups"]["ResourceGroup"]] == [ga]
    assert list_groups(b, resource_group_ids=[ga])["TotalCount"] == 0
    expect_error(lambda: get(b, ga), "EntityNotExists.ResourceGroup", 404)
    expect_error(lambda: delete(b, ga), "EntityNotExists.ResourceGroup", 404)
    expect_error(lambda: move(b, ga, [desktop("ecd-x")]), "EntityNotExists.ResourceGroup", 404)
    a_ids = a.create(image=IMG_UBUNTU, amount=1, name="a-rt", rg=ga)
    res = move(b, gb, [desktop(a_ids[0])])["Responses"]
    assert res[0]["Status"] == "FAIL" and res[0]["ErrorCode"] == "EntityNotExists.Resource"
    assert a.runtime_ids(resource_group_id=ga) == set(a_ids)
    assert get(a, ga)["ResourceGroup"]["AccountId"] == a_info["AccountId"]


def test_v2_signature_and_flat_lists(tenant):
    v2 = tenant.server.api(tenant.key, v2=True)
    ga = create(v2, "v2-a")["ResourceGroup"]["Id"]
    gb = create(v2, "v2-b")["ResourceGroup"]["Id"]
    assert names(list_groups(v2, resource_group_ids=[ga, gb])) == ["v2-a", "v2-b"]


def test_groups_survive_a_restart(server_factory):
    srv = server_factory()
    root = srv.api()
    g = create(root, "durable", "Durable", tags={"k": "v"})["ResourceGroup"]
    ids = root.create(image=IMG_UBUNTU, amount=1, name="durable", rg=g["Id"])
    g2 = create(root, "durable-2")["ResourceGroup"]["Id"]
    move(root, g2, [desktop(ids[0])])
    before = list_groups(root, include_tags=True)["ResourceGroups"]
    srv.restart()
    root = srv.api()
    assert list_groups(root, include_tags=True)["ResourceGroups"] == before
    assert root.runtime_ids(resource_group_id=g2) == set(ids)
    expect_error(lambda: create(root, "durable"), "NameAlreadyExists.ResourceGroup", 400)
