"""ecd 2020-09-30 around CreateDesktops: office sites (CreateSimpleOfficeSite, DescribeOfficeSites,
DeleteOfficeSites) and the catalogue (DescribeBundles, DescribeImages, DescribeRegions)."""

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
    expect_ok,
    expect_raw_error,
    raw_v3,
)

SITE_ID = re.compile(r"^cn-hangzhou\+dir-[1-9][0-9]{9}$")
NOT_FOUND = "InvalidOfficeSiteId.NotFound"


def _site_request(**kw):
    from alibabacloud_ecd20200930 import models as m

    kw.setdefault("region_id", REGION)
    return m.CreateSimpleOfficeSiteRequest(**kw)


# --------------------------------------------------------------------------------------------------
# the newcomer's path


def test_create_describe_use_and_delete(tenant):
    assert REGION in [r["RegionId"] for r in tenant.regions()]
    site = tenant.create_office_site("hq-office", cidr_block="10.8.0.0/16", enable_internet_access=True,
                                     bandwidth=50, enable_admin_access=False, desktop_access_type="any")
    assert SITE_ID.match(site), site

    s = tenant.office_site(site)
    assert s["OfficeSiteId"] == site and s["Name"] == "hq-office", s
    assert s["Status"] == "REGISTERED", s
    assert s["OfficeSiteType"] == "SIMPLE" and s["AccountType"] == "SIMPLE", s
    assert s["CidrBlock"] == "10.8.0.0/16" and s["VpcType"] == "basic", s
    assert s["VpcId"].startswith("vpc-"), s
    assert s["EnableInternetAccess"] is True and s["Bandwidth"] == 50, s
    assert s["EnableAdminAccess"] is False and s["DesktopAccessType"] == "Any", s
    assert s["DesktopCount"] == 0 and s["TotalEdsCount"] == 0, s
    created = dt.datetime.strptime(s["CreationTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    assert abs((dt.datetime.now(dt.timezone.utc) - created).total_seconds()) < 600, s

    bundle = next(b for b in tenant.bundles() if b["BundleId"] == BUNDLE_OPENCLAW)
    ids = tenant.create(bundle=bundle["BundleId"], amount=2, name="hq", office_site_id=site)
    for d in tenant.desktops(desktop_id=ids):
        assert d["OfficeSiteId"] == site and d["DirectoryId"] == site, d
        assert d["OfficeSiteName"] == "hq-office" and d["OfficeSiteType"] == "SIMPLE", d
        assert d["OfficeSiteVpcType"] == "basic", d
    assert [d["DesktopId"] for d in tenant.desktops(office_site_id=site)] != []
    assert sorted(r["DesktopId"] for r in tenant.runtimes(office_site_id=site)) == sorted(ids)
    assert tenant.office_site(site)["DesktopCount"] == 2

    # a site that still holds desktops is refused, whole batch included, and stays
    empty = tenant.create_office_site("hq-empty")
    expect_error(lambda: tenant.delete_office_sites([empty, site]), "DependencyViolation.Desktops", 400,
                 names=f"{site} still holds 2 desktop")
    assert {x["OfficeSiteId"] for x in tenant.office_sites()} == {site, empty}

    tenant.delete([ids[0]])
    expect_error(lambda: tenant.delete_office_sites([site]), "DependencyViolation.Desktops", 400)
    assert tenant.office_site(site)["DesktopCount"] == 1
    tenant.delete([ids[1]])
    tenant.delete_office_sites([site, empty])
    assert tenant.office_sites() == []
    expect_error(lambda: tenant.delete_office_sites([site]), NOT_FOUND, 404, names=site)
    # the deleted desktops still show where they were
    assert {d["OfficeSiteId"] for d in tenant.desktops(desktop_id=ids)} == {site}
    # and the site takes no new desktops
    expect_error(lambda: tenant.create(bundle=BUNDLE_OPENCLAW, office_site_id=site), NOT_FOUND, 404, names=site)


def test_unknown_office_site_refused(tenant):
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, office_site_id="cn-hangzhou+dir-0000000000"),
                 NOT_FOUND, 404, names="cn-hangzhou+dir-0000000000")
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, office_site_id="not-a-site"), NOT_FOUND, 404)
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, office_site_id="x" * 65), "InvalidParameter", 400,
                 names="OfficeSiteId")
    # a site exists only in its own region
    site = tenant.create_office_site("hz-only")
    expect_error(lambda: tenant.create(image=IMG_UBUNTU, office_site_id=site, region="cn-shanghai"), NOT_FOUND, 404)
    assert tenant.office_sites(region_id="cn-shanghai") == []
    expect_error(lambda: tenant.delete_office_sites([site], region="cn-shanghai"), NOT_FOUND, 404)
    # nothing was created by the refused calls; OfficeSiteId stays optional
    assert tenant.desktops() == [] and tenant.desktops(region_id="cn-shanghai") == []
    (free,) = tenant.create(image=IMG_UBUNTU)
    assert tenant.desktop(free).get("OfficeSiteId") is None
    assert tenant.office_sites(office_site_id=["cn-hangzhou+dir-0000000000"]) == []


def test_tenant_isolation(server, tenant):
    info = server.create_tenant()
    other = server.api((info["AccessKeyId"], info["AccessKeySecret"]))
    site = tenant.create_office_site("mine")
    (mine,) = tenant.create(image=IMG_UBUNTU, office_site_id=site)

    assert other.office_sites() == []
    assert other.office_sites(office_site_id=[site]) == []
    assert other.office_sites_page(office_site_id=[site]).get("TotalCount") == 0
    expect_error(lambda: other.create(image=IMG_UBUNTU, office_site_id=site), NOT_FOUND, 404)
    expect_error(lambda: other.delete_office_sites([site]), NOT_FOUND, 404)
    assert other.desktops() == []
    # the other tenant's site of its own does not see the first tenant's desktops
    theirs = other.create_office_site("theirs")
    assert other.office_site(theirs)["DesktopCount"] == 0
    assert other.desktops(office_site_id=site) == []
    assert [x["OfficeSiteId"] for x in tenant.office_sites()] == [site]
    assert tenant.office_site(site)["DesktopCount"] == 1
    assert tenant.desktop(mine)["OfficeSiteName"] == "mine"


def test_restart_keeps_office_sites(server_factory):
    srv = server_factory()
    api = srv.api()
    site = api.create_office_site("persist-site", cidr_block="192.168.0.0/16", cen_id="cen-e2e",
                                  client_id="app-1", domain_name="corp.example")
    empty = api.create_office_site()
    ids = api.create(bundle=BUNDLE_HERMES, amount=2, name="persist", office_site_id=site)
    before = api.office_sites_page()
    before.pop("RequestId")
    desktops_before = api.desktops(desktop_id=ids)

    srv.restart()

    api = srv.api()
    after = api.office_sites_page()
    after.pop("RequestId")
    assert after == before
    assert api.desktops(desktop_id=ids) == desktops_before
    s = api.office_site(site)
    assert (s["CidrBlock"], s["CenId"], s["ClientId"], s["DomainName"], s["DesktopCount"]) == \
        ("192.168.0.0/16", "cen-e2e", "app-1", "corp.example", 2), s
    # an unnamed site is named after its id
    assert api.office_site(empty)["Name"] == empty
    expect_error(lambda: api.delete_office_sites([site]), "DependencyViolation.Desktops", 400)
    api.create(image=IMG_UBUNTU, office_site_id=site)
    assert api.office_site(site)["DesktopCount"] == 3
    api.delete_office_sites([empty])
    assert [x["OfficeSiteId"] for x in api.office_sites()] == [site]


# --------------------------------------------------------------------------------------------------
# DescribeOfficeSites


def test_describe_filters_and_paging(tenant):
    sites = [tenant.create_office_site(f"page-{i}") for i in range(5)]
    seen: list[str] = []
    token = None
    for _ in range(10):
        body = tenant.office_sites_page(max_results=2, next_token=token)
        assert body["TotalCount"] == 5, body
        page = [s["OfficeSiteId"] for s in body.get("OfficeSites") or []]
        assert 1 <= len(page) <= 2, body
        seen += page
        token = body.get("NextToken")
        if not token:
            break
    else:
        pytest.fail("NextToken paging did not end")
    assert seen == list(reversed(sites)), "newest first, each once"

    assert [s["OfficeSiteId"] for s in tenant.office_sites(office_site_id=[sites[1], sites[3]])] == \
        [sites[3], sites[1]]
    assert len(tenant.office_sites(status="REGISTERED")) == 5
    assert len(tenant.office_sites(status="registered")) == 5
    assert tenant.office_sites(status="REGISTERING") == []
    assert len(tenant.office_sites(office_site_type="SIMPLE")) == 5
    assert tenant.office_sites(office_site_type="AD_CONNECTOR") == []
    vpc = tenant.office_site(sites[2])["VpcId"]
    assert [s["OfficeSiteId"] for s in tenant.office_sites(vpc_id=vpc)] == [sites[2]]
    assert len(tenant.office_sites(account_type="SIMPLE")) == 5
    assert tenant.office_sites(security_protection="SASE") == []

    expect_error(lambda: tenant.office_sites_page(status="GONE"), "InvalidParameter", 400, names="Status")
    expect_error(lambda: tenant.office_sites_page(office_site_type="LDAP"), "InvalidParameter", 400,
                 names="OfficeSiteType")
    expect_error(lambda: tenant.office_sites_page(max_results=101), "InvalidParameter", 400, names="MaxResults")
    expect_error(lambda: tenant.office_sites_page(max_results=0), "InvalidParameter", 400, names="MaxResults")
    expect_error(lambda: tenant.office_sites_page(next_token="bogus"), "InvalidParameter", 400, names="NextToken")
    expect_error(lambda: tenant.office_sites_page(office_site_id=[f"cn-hangzhou+dir-{i}" for i in range(101)]),
                 "InvalidParameter", 400, names="OfficeSiteId")
    expect_error(lambda: tenant.office_sites_page(vpc_id="v" * 65), "InvalidParameter", 400, names="VpcId")
    expect_raw_error(raw_v3(tenant.server, "DescribeOfficeSites", V_ECD, {}, key=tenant.key),
                     "MissingParameter", 400, names="RegionId")


# --------------------------------------------------------------------------------------------------
# bad input


def test_create_validation(tenant):
    ecd = tenant.ecd
    bad = [
        (dict(office_site_name="a"), "InvalidParameter", "OfficeSiteName"),
        (dict(office_site_name="1st-office"), "InvalidParameter", "OfficeSiteName"),
        (dict(office_site_name="http://x"), "InvalidParameter", "OfficeSiteName"),
        (dict(office_site_name="has space"), "InvalidParameter", "OfficeSiteName"),
        (dict(office_site_name="x" * 256), "InvalidParameter", "OfficeSiteName"),
        (dict(cidr_block="172.16.0.0"), "InvalidParameter", "CidrBlock"),
        (dict(cidr_block="172.16.0.1/12"), "InvalidParameter", "CidrBlock"),
        (dict(cidr_block="8.8.8.0/24"), "InvalidParameter", "CidrBlock"),
        (dict(cidr_block="10.0.0.0/8"), "InvalidParameter", "CidrBlock"),
        (dict(cidr_block="192.168.0.0/25"), "InvalidParameter", "CidrBlock"),
        (dict(vpc_type="standard"), "MissingParameter", "CidrBlock"),
        (dict(vpc_type="classic"), "InvalidParameter", "VpcType"),
        (dict(vpc_type="cloudbox"), "MissingParameter", "VSwitchId"),
        (dict(cloud_box_office_site=True, vpc_type="basic", v_switch_id=["vsw-1"]), "InvalidParameter", "VpcType"),
        (dict(desktop_access_type="Carrier"), "InvalidParameter", "DesktopAccessType"),
        (dict(enable_internet_access=True, bandwidth=5), "InvalidParameter", "Bandwidth"),
        (dict(enable_internet_access=True, bandwidth=201), "InvalidParameter", "Bandwidth"),
        (dict(client_id="c" * 256), "InvalidParameter", "ClientId"),
        (dict(client_secret="s" * 256), "InvalidParameter", "ClientSecret"),
        (dict(tenant_id="t" * 256), "InvalidParameter", "TenantId"),
        (dict(cen_id="c" * 65), "InvalidParameter", "CenId"),
        (dict(cen_owner_id=-1), "InvalidParameter", "CenOwnerId"),
        (dict(v_switch_id=[f"vsw-{i}" for i in range(11)]), "InvalidParameter", "VSwitchId"),
        (dict(v_switch_id=["v" * 65]), "InvalidParameter", "VSwitchId.1"),
        (dict(account_type="a" * 65), "InvalidParameter", "AccountType"),
    ]
    for kw, code, name in bad:
        expect_error(lambda kw=kw: ecd.create_simple_office_site(_site_request(**kw)), code, 400, names=name)
    expect_error(lambda: ecd.create_simple_office_site(_site_request(region_id="mars-1")),
                 "InvalidRegionId.NotFound", 404, names="RegionId")
    expect_raw_error(raw_v3(tenant.server, "CreateSimpleOfficeSite", V_ECD, {"OfficeSiteName": "x-y"},
                            key=tenant.key), "MissingParameter", 400, names="RegionId")
    expect_raw_error(raw_v3(tenant.server, "CreateSimpleOfficeSite", V_ECD,
                            {"RegionId": REGION, "Bandwidth": "many"}, key=tenant.key),
                     "InvalidParameter", 400, names="Bandwidth")
    # nothing was created by the failed calls
    assert tenant.office_sites() == []

    # the cloud's limits themselves are accepted
    site = tenant.create_office_site("办公网络:东_1-" + "x" * 246, cidr_block="172.31.255.0/24",
                                     enable_internet_access=True, bandwidth=200, client_secret="s3cr3t-value",
                                     verify_code="123456", tenant_id="idp-tenant", vpc_type="Standard")
    s = tenant.office_site(site)
    assert len(s["Name"]) == 255 and s["VpcType"] == "standard" and s["Bandwidth"] == 200, s
    assert s["TenantId"] == "idp-tenant", s
    assert "s3cr3t-value" not in repr(s) and "123456" not in repr(s), s
    box = tenant.create_office_site("box", cloud_box_office_site=True, v_switch_id=["vsw-a", "vsw-b"])
    b = tenant.office_site(box)
    assert (b["VpcType"], b["CloudBoxOfficeSite"], b["VSwitchIds"]) == ("cloudbox", True, ["vsw-a", "vsw-b"]), b
    # Bandwidth without Internet access leaves the site without bandwidth
    quiet = tenant.create_office_site("quiet", bandwidth=20)
    q = tenant.office_site(quiet)
    assert (q["EnableInternetAccess"], q["Bandwidth"], q["CidrBlock"]) == (False, 0, "172.16.0.0/12"), q


def test_delete_validation(tenant):
    site = tenant.create_office_site("keep")
    expect_raw_error(raw_v3(tenant.server, "DeleteOfficeSites", V_ECD, {"RegionId": REGION}, key=tenant.key),
                     "MissingParameter", 400, names="OfficeSiteId")
    expect_raw_error(raw_v3(tenant.server, "DeleteOfficeSites", V_ECD, {"OfficeSiteId": [site]}, key=tenant.key),
                     "MissingParameter", 400, names="RegionId")
    expect_error(lambda: tenant.delete_office_sites([f"cn-hangzhou+dir-{i}" for i in range(101)]),
                 "InvalidParameter", 400, names="OfficeSiteId")
    expect_error(lambda: tenant.delete_office_sites(["s" * 65]), "InvalidParameter", 400, names="OfficeSiteId.1")
    # a batch with one unknown id deletes nothing
    expect_error(lambda: tenant.delete_office_sites([site, "cn-hangzhou+dir-1234567890"]), NOT_FOUND, 404,
                 names="cn-hangzhou+dir-1234567890")
    assert [s["OfficeSiteId"] for s in tenant.office_sites()] == [site]
    # the same id twice is one site
    tenant.delete_office_sites([site, site])
    assert tenant.office_sites() == []


# --------------------------------------------------------------------------------------------------
# the catalogue


def test_describe_bundles(tenant):
    bundles = {b["BundleId"]: b for b in tenant.bundles()}
    assert set(bundles) == {BUNDLE_OPENCLAW, BUNDLE_HERMES}
    b = bundles[BUNDLE_HERMES]
    assert b["BundleName"] == "Hermes Agent" and b["BundleType"] == "SYSTEM", b
    assert b["OsType"] == "Linux" and b["DesktopType"] == "cloud.space.4c.8g", b
    assert b["DesktopTypeFamily"] == "cloud.space", b
    assert b["DesktopTypeAttribute"]["CpuCount"] == 4 and b["DesktopTypeAttribute"]["MemorySize"] == 8192, b
    assert {(d["DiskType"], d["DiskSize"]) for d in b["Disks"]} == {("SYSTEM", 80), ("DATA", 40)}, b
    assert "HermesAgent" in b["Description"], b
    assert "StockState" not in b
    assert tenant.bundles(check_stock=True)[0]["StockState"] == "Available"

    assert [x["BundleId"] for x in tenant.bundles(bundle_id=[BUNDLE_HERMES])] == [BUNDLE_HERMES]
    assert len(tenant.bundles(os_type="linux", cpu_count=4, memory_size=8, bundle_type="SYSTEM",
                              desktop_type_family="cloud.space", protocol_type="ASP",
                              session_type="SINGLE_SESSION")) == 2
    for empty in (dict(os_type="Windows"), dict(cpu_count=8), dict(memory_size=16), dict(bundle_type="CUSTOM"),
                  dict(gpu_count=1), dict(volume_encryption_enabled=True), dict(image_id=[IMG_UBUNTU]),
                  dict(bundle_id=["b-unknown"]), dict(protocol_type="HDX"), dict(region_id="mars-1")):
        assert tenant.bundles(**empty) == [], empty

    first = tenant.bundles_page(max_results=1)
    assert len(first["Bundles"]) == 1 and first.get("NextToken"), first
    second = tenant.bundles_page(max_results=1, next_token=first["NextToken"])
    assert len(second["Bundles"]) == 1 and not second.get("NextToken"), second
    assert {first["Bundles"][0]["BundleId"], second["Bundles"][0]["BundleId"]} == set(bundles)

    expect_error(lambda: tenant.bundles_page(os_type="Solaris"), "InvalidParameter", 400, names="OsType")
    expect_error(lambda: tenant.bundles_page(bundle_type="OTHER"), "InvalidParameter", 400, names="BundleType")
    expect_error(lambda: tenant.bundles_page(max_results=101), "InvalidParameter", 400, names="MaxResults")
    expect_error(lambda: tenant.bundles_page(bundle_id=["b"] * 101), "InvalidParameter", 400, names="BundleId")
    expect_error(lambda: tenant.bundles_page(scope="s" * 129), "InvalidParameter", 400, names="Scope")
    # every bundle listed is one CreateDesktops takes
    for bundle_id in bundles:
        assert len(tenant.create(bundle=bundle_id)) == 1


def test_describe_images(tenant):
    images = {i["ImageId"]: i for i in tenant.images()}
    assert set(images) == {IMG_UBUNTU, IMG_WINDOWS}
    u = images[IMG_UBUNTU]
    assert (u["Name"], u["OsType"], u["Platform"], u["ImageType"], u["Status"]) == \
        ("OpenClaw_Ubuntu 22.04", "Linux", "Ubuntu", "SYSTEM", "Available"), u
    assert u["Size"] == 80 and u["DataDiskSize"] == 40 and u["GpuCategory"] is False, u

    assert [i["ImageId"] for i in tenant.images(os_type="Windows")] == [IMG_WINDOWS]
    assert [i["ImageId"] for i in tenant.images(image_name="ubuntu")] == [IMG_UBUNTU]
    assert [i["ImageId"] for i in tenant.images(image_id=[IMG_WINDOWS, "imgc-unknown"])] == [IMG_WINDOWS]
    assert len(tenant.images(image_type="system", image_status="Available",
                             desktop_instance_type="eds.enterprise_office.4c8g")) == 2
    for empty in (dict(image_type="CUSTOM"), dict(image_status="Creating"), dict(gpu_category=True),
                  dict(fota_version="1.0"), dict(desktop_instance_type="eds.other.2c4g"), dict(region_id="mars-1")):
        assert tenant.images(**empty) == [], empty
    first = tenant.images_page(max_results=1)
    assert len(first["Images"]) == 1 and first.get("NextToken"), first

    expect_error(lambda: tenant.images_page(image_type="PUBLIC"), "InvalidParameter", 400, names="ImageType")
    expect_error(lambda: tenant.images_page(image_status="Ready"), "InvalidParameter", 400, names="ImageStatus")
    expect_error(lambda: tenant.images_page(image_name="n" * 129), "InvalidParameter", 400, names="ImageName")
    expect_error(lambda: tenant.images_page(next_token="nope"), "InvalidParameter", 400, names="NextToken")
    # every image listed is one CreateDesktops takes
    for image_id in images:
        assert len(tenant.create(image=image_id)) == 1


def test_describe_regions(tenant):
    regions = {r["RegionId"]: r for r in tenant.regions()}
    assert {"cn-hangzhou", "cn-shanghai", "ap-southeast-1"} <= set(regions)
    assert regions["cn-hangzhou"]["RegionEndpoint"] == "ecd.cn-hangzhou.aliyuncs.com"
    assert regions["cn-hangzhou"]["LocalName"] == "华东1（杭州）"
    english = {r["RegionId"]: r["LocalName"] for r in tenant.regions(accept_language="en-US")}
    assert english["cn-hangzhou"] == "China (Hangzhou)"
    expect_error(lambda: tenant.regions(accept_language="xx-YY"), "InvalidParameter", 400, names="AcceptLanguage")
    expect_raw_error(raw_v3(tenant.server, "DescribeRegions", V_ECD, {}, key=tenant.key),
                     "MissingParameter", 400, names="RegionId")
    # an office site can be created in every region listed
    for region in regions:
        site = tenant.create_office_site(f"in-{region}", region=region)
        assert site.startswith(f"{region}+dir-"), site
        assert [s["OfficeSiteId"] for s in tenant.office_sites(region_id=region)] == [site]
    body = expect_ok(raw_v3(tenant.server, "DescribeRegions", V_ECD, {"RegionId": "mars-1"}, key=tenant.key))
    assert set(r["RegionId"] for r in body["Regions"]) == set(regions)
