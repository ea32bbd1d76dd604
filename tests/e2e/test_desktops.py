"""ecd 2020-09-30: CreateDesktops, DescribeDesktops and the power state machine (no provisioning delay)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from amc_e2e import (
    BUNDLE_HERMES,
    BUNDLE_OPENCLAW,
    IMG_UBUNTU,
    IMG_WINDOWS,
    REGION,
    V_ECD,
    expect_error,
    expect_raw_error,
    raw_v3,
)

ECD_ID = re.compile(r"^ecd-[0-9a-z]+$")
JVS_ID = re.compile(r"^jvs-[0-9a-z]+$")


def _purchase_options():
    from alibabacloud_ecd20200930 import models as m

    return m.CreateDesktopsRequestPurchaseOptions(monthly_credits=100)


def test_create_ubuntu_openclaw_desktops(tenant):
    rg = tenant.create_group("e2e-ubuntu")
    site = tenant.create_office_site("e2e-ubuntu")
    resp = tenant.create_raw(
        image=IMG_UBUNTU, amount=3, name="oc-ubuntu", users=["alice", "bob"],
        tags={"env": "e2e", "team": "qa"}, rg=rg,
        charge_type="PostPaid", office_site_id=site, purchase_options=_purchase_options(),
    )
    ids = resp.body.desktop_id
    assert resp.body.request_id
    assert isinstance(ids, list) and len(ids) == 3, ids
    assert len(set(ids)) == 3
    assert all(ECD_ID.match(i) for i in ids), ids

    got = tenant.desktops(desktop_id=ids, fill_resource_group=True)
    assert sorted(d["DesktopId"] for d in got) == sorted(ids)
    for d in got:
        assert d["DesktopName"].startswith("oc-ubuntu"), d
        assert d["DesktopStatus"] == "Running", d
        assert d["OsType"] == "Linux", d
        assert sorted(d.get("EndUserIds") or []) == ["alice", "bob"], d
        assert {(t["Key"], t["Value"]) for t in d.get("Tags") or []} == {("env", "e2e"), ("team", "qa")}, d
        assert d["ChargeType"].lower() == "postpaid", d
        assert d["OfficeSiteId"] == site, d
        assert d["OfficeSiteName"] == "e2e-ubuntu", d
        assert d.get("ImageId") == IMG_UBUNTU or d.get("BundleId"), d
        assert d.get("AgentProviderList") == ["OpenClaw"], d
        assert [g["Id"] for g in d.get("ResourceGroups") or []] == [rg], d
        created = dt.datetime.strptime(d["CreationTime"][:16], "%Y-%m-%dT%H:%M").replace(tzinfo=dt.timezone.utc)
        assert abs((dt.datetime.now(dt.timezone.utc) - created).total_seconds()) < 600, d


def test_create_windows_desktop(tenant):
    ids = tenant.create(image=IMG_WINDOWS, amount=1, name="oc-win")
    assert len(ids) == 1 and ECD_ID.match(ids[0])
    d = tenant.desktop(ids[0])
    assert d["OsType"] == "Windows", d
    assert d.get("AgentProviderList") == ["OpenClaw"], d
    (rt,) = tenant.runtimes(desktop_ids=ids)
    assert rt["OsType"] == "Windows"
    assert rt["AgentInstanceInfoList"][0]["AgentPlatform"] == "ENTERPRISE"


@pytest.mark.parametrize("bundle,provider", [(BUNDLE_OPENCLAW, "OpenClaw"), (BUNDLE_HERMES, "HermesAgent")])
def test_create_jvs_from_bundle(tenant, bundle, provider):
    ids = tenant.create(bundle=bundle, amount=2, name=f"jvs-{provider}", users=["carol"])
    assert len(ids) == 2 and all(JVS_ID.match(i) for i in ids), ids
    for d in tenant.desktops(desktop_id=ids):
        assert d["DesktopStatus"] == "Running"
        assert d.get("BundleId") == bundle, d
        assert d.get("AgentProviderList") == [provider], d
    rts = tenant.runtimes(agent_provider=provider, desktop_ids=ids)
    assert sorted(r["DesktopId"] for r in rts) == sorted(ids)
    for r in rts:
        (inst,) = r["AgentInstanceInfoList"]
        assert inst["AgentPlatform"] == "ENTERPRISE_JVS", r
        assert inst["AgentProvider"] == provider, r


def test_create_validation(tenant):
    expect_error(lambda: tenant.create(image="imgc-doesnotexist000"), "InvalidImageId.NotFound")
    expect_error(lambda: tenant.create(bundle="b-doesnotexist"), "InvalidBundleId.NotFound")
    expect_error(lambda: tenant.create(), "MissingParameter", 400, names="BundleId")
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, amount=0), "InvalidParameter", 400, names="Amount")
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, amount=101), "InvalidParameter", 400, names="Amount")
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, region=None), "MissingParameter", 400, names="RegionId")
    expect_raw_error(raw_v3(tenant.server, "CreateDesktops", V_ECD,
                            {"RegionId": REGION, "DesktopAttachment": "{not json", "Amount": 1}, key=tenant.key),
                     "InvalidParameter", 400, names="DesktopAttachment")
    # nothing was created by the failed calls
    assert tenant.desktops() == []
    # Amount 100 is the upper bound and allowed; no Amount means 1
    assert len(tenant.create(image=IMG_UBUNTU, amount=None)) == 1


def test_create_amount_100(tenant):
    ids = tenant.create(bundle=BUNDLE_OPENCLAW, amount=100, name="bulk")
    assert len(ids) == 100 and len(set(ids)) == 100
    assert tenant.describe(page_number=1, page_size=100).get("TotalCount") == 100
    assert len(tenant.runtime_ids()) == 100


def test_describe_filters(tenant):
    rg_a, rg_b = tenant.create_group("flt-a"), tenant.create_group("flt-b")
    a = tenant.create(image=IMG_UBUNTU, amount=2, name="flt-a", users=["u-a"], rg=rg_a, tags={"k": "a"})
    b = tenant.create(image=IMG_WINDOWS, amount=1, name="flt-b", users=["u-b"], rg=rg_b, tags={"k": "b"})
    c = tenant.create(bundle=BUNDLE_HERMES, amount=1, name="flt-c", users=["u-a", "u-c"], rg=rg_a)
    everything = a + b + c
    tenant.stop([b[0]])

    assert sorted(x["DesktopId"] for x in tenant.desktops()) == sorted(everything)
    assert sorted(x["DesktopId"] for x in tenant.desktops(desktop_id=[a[0], c[0]])) == sorted([a[0], c[0]])
    assert [x["DesktopId"] for x in tenant.desktops(desktop_status="Stopped")] == b
    assert sorted(x["DesktopId"] for x in tenant.desktops(desktop_status="Running")) == sorted(a + c)
    assert sorted(x["DesktopId"] for x in tenant.desktops(end_user_id=["u-a"])) == sorted(a + c)
    assert sorted(x["DesktopId"] for x in tenant.desktops(end_user_id=["u-c"])) == sorted(c)
    assert sorted(x["DesktopId"] for x in tenant.desktops(resource_group_id=rg_a)) == sorted(a + c)
    assert [x["DesktopId"] for x in tenant.desktops(resource_group_id=rg_b)] == b
    assert tenant.desktops(resource_group_id="rg-none") == []
    assert tenant.desktops(desktop_id=["ecd-doesnotexist00"]) == []
    fill = tenant.desktops(desktop_id=b, fill_resource_group=True)
    assert [g["Id"] for g in fill[0]["ResourceGroups"]] == [rg_b]


def test_describe_next_token_paging(tenant):
    ids = tenant.create(image=IMG_UBUNTU, amount=7, name="page")
    seen: list[str] = []
    token = None
    for _ in range(10):
        body = tenant.describe(max_results=3, next_token=token)
        page = [d["DesktopId"] for d in body.get("Desktops") or []]
        assert len(page) <= 3, body
        seen += page
        token = body.get("NextToken")
        if not token:
            break
    else:
        pytest.fail("NextToken paging did not end")
    assert len(seen) == 7, seen
    assert sorted(seen) == sorted(ids)


def test_describe_page_number_paging(tenant):
    ids = tenant.create(image=IMG_UBUNTU, amount=7, name="pn")
    seen: list[str] = []
    for page in (1, 2, 3):
        body = tenant.describe(page_number=page, page_size=3)
        assert body.get("TotalCount") == 7, body
        got = [d["DesktopId"] for d in body.get("Desktops") or []]
        assert len(got) == (3 if page < 3 else 1), (page, got)
        seen += got
    assert sorted(seen) == sorted(ids) and len(set(seen)) == 7
    assert tenant.describe(page_number=4, page_size=3).get("Desktops") in (None, [])


def test_power_state_machine(tenant):
    ids = tenant.create(image=IMG_UBUNTU, amount=2, name="sm")
    d1, d2 = ids
    assert tenant.status(d1) == "Running"

    expect_error(lambda: tenant.start([d1]), "IncorrectDesktopStatus", 400)
    tenant.reboot([d1])
    assert tenant.status(d1) == "Running"

    tenant.stop([d1])
    assert tenant.status(d1) == "Stopped"
    expect_error(lambda: tenant.stop([d1]), "IncorrectDesktopStatus", 400)
    expect_error(lambda: tenant.reboot([d1]), "IncorrectDesktopStatus", 400)
    # a batch where one desktop is in the wrong state changes nothing
    expect_error(lambda: tenant.stop([d2, d1]), "IncorrectDesktopStatus", 400)
    assert tenant.status(d2) == "Running"

    tenant.start([d1])
    assert tenant.status(d1) == "Running"

    tenant.stop([d1, d2])
    assert tenant.status(d1) == "Stopped" and tenant.status(d2) == "Stopped"
    tenant.start([d1, d2])
    assert tenant.status(d1) == "Running" and tenant.status(d2) == "Running"


def test_delete(tenant):
    keep, gone, stopped_gone = tenant.create(image=IMG_UBUNTU, amount=3, name="del")
    tenant.stop([stopped_gone])
    tenant.delete([gone, stopped_gone])
    assert tenant.status(gone) == "Deleted"
    assert tenant.status(stopped_gone) == "Deleted"
    assert [d["DesktopId"] for d in tenant.desktops()] == [keep]
    assert tenant.runtime_ids() == {keep}
    assert tenant.runtime_ids(desktop_ids=[gone]) == set()
    for op in (tenant.start, tenant.stop, tenant.reboot, tenant.delete):
        expect_error(lambda op=op: op([gone]), "IncorrectDesktopStatus", 400)


def test_unknown_desktop_id(tenant):
    (real,) = tenant.create(image=IMG_UBUNTU, amount=1, name="unk")
    for op in (tenant.start, tenant.stop, tenant.reboot, tenant.delete):
        expect_error(lambda op=op: op(["ecd-doesnotexist00"]), "InvalidDesktopId.NotFound", 404)
    # a batch with one bad id changes nothing
    for op in (tenant.stop, tenant.reboot, tenant.delete):
        expect_error(lambda op=op: op([real, "ecd-doesnotexist00"]), "InvalidDesktopId.NotFound", 404)
        assert tenant.status(real) == "Running"
    tenant.stop([real])
    expect_error(lambda: tenant.start([real, "jvs-doesnotexist00"]), "InvalidDesktopId.NotFound", 404)
    assert tenant.status(real) == "Stopped"
