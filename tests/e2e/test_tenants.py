"""Tenants: keys made by `amc admin tenant create`, isolation, the generated root key."""

from __future__ import annotations

import os
import stat

from amc_e2e import IMG_UBUNTU, BUNDLE_HERMES, REGION, V_ECD, expect_error, expect_ok, raw_v3


def test_admin_tenant_create_while_running(server):
    info = server.create_tenant()
    assert info["AccessKeyId"] != server.root_key[0]
    api = server.api((info["AccessKeyId"], info["AccessKeySecret"]))
    assert api.desktops() == []
    expect_ok(raw_v3(server, "DescribeDesktops", V_ECD, {"RegionId": REGION},
                     key=(info["AccessKeyId"], info["AccessKeySecret"])))
    # two tenants get two different accounts and keys
    other = server.create_tenant()
    assert other["AccountId"] != info["AccountId"]
    assert other["AccessKeyId"] != info["AccessKeyId"]


def test_tenants_do_not_see_each_other(server):
    a_info, b_info = server.create_tenant(), server.create_tenant()
    a = server.api((a_info["AccessKeyId"], a_info["AccessKeySecret"]))
    b = server.api((b_info["AccessKeyId"], b_info["AccessKeySecret"]))
    # resource groups are per tenant: each makes its own, with the same name
    a_rg, b_rg = a.create_group("shared"), b.create_group("shared")
    a_ids = a.create(image=IMG_UBUNTU, amount=2, name="tenant-a", users=["alice"], rg=a_rg)
    a_ids += a.create(bundle=BUNDLE_HERMES, amount=1, name="tenant-a-hermes", users=["alice"], rg=a_rg)
    b_ids = b.create(image=IMG_UBUNTU, amount=1, name="tenant-b", users=["alice"], rg=b_rg)

    assert set(a.runtime_ids()) | set(a.runtime_ids(agent_provider="HermesAgent")) == set(a_ids)
    assert set(ids_of_desktops(a.desktops())) == set(a_ids)
    assert set(ids_of_desktops(b.desktops())) == set(b_ids)

    # explicit filters on A's ids from B find nothing
    assert b.desktops(desktop_id=a_ids) == []
    assert b.desktops(end_user_id=["alice"]) and set(ids_of_desktops(b.desktops(end_user_id=["alice"]))) == set(b_ids)
    assert b.desktops(resource_group_id=b_rg, fill_resource_group=True) != []
    assert set(ids_of_desktops(b.desktops(resource_group_id=b_rg))) == set(b_ids)
    assert b.desktops(resource_group_id=a_rg) == []
    assert b.runtime_ids(desktop_ids=a_ids) == set()
    assert b.runtime_ids(resource_ids=a_ids) == set()
    assert b.runtime_ids(desktop_ids=a_ids, agent_provider="HermesAgent") == set()
    assert b.runtimes_page(agent_provider="OpenClaw", desktop_ids=a_ids).get("TotalCount") == 0

    # B cannot act on A's desktops
    for op in (b.stop, b.reboot, b.delete):
        expect_error(lambda op=op: op([a_ids[0]]), "InvalidDesktopId.NotFound", 404)
    a.stop([a_ids[0]])
    expect_error(lambda: b.start([a_ids[0]]), "InvalidDesktopId.NotFound", 404)
    # a batch mixing B's own id with A's id changes nothing
    expect_error(lambda: b.stop([b_ids[0], a_ids[1]]), "InvalidDesktopId.NotFound", 404)
    assert b.status(b_ids[0]) == "Running"
    assert a.status(a_ids[1]) == "Running"
    assert a.status(a_ids[0]) == "Stopped"
    assert {d["DesktopStatus"] for d in a.desktops(desktop_id=a_ids)} == {"Running", "Stopped"}


def ids_of_desktops(desktops):
    return [d["DesktopId"] for d in desktops]


def test_generated_root_key_file(server_factory):
    srv = server_factory(env_key=False)
    path = srv.data_dir / "root-access-key.json"
    assert path.is_file(), f"no {path}"
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600, f"root-access-key.json has mode {oct(mode)}"
    ak, sk = srv.read_root_key_file()
    import json

    data = json.loads(path.read_text())
    assert data.get("AccountId"), data
    api = srv.api((ak, sk))
    assert api.desktops() == []
    ids = api.create(image=IMG_UBUNTU, amount=1, name="root-file")
    assert api.status(ids[0]) == "Running"
    # the key is printed once, and the same key is used after a restart (no new key made)
    srv.restart()
    assert srv.read_root_key_file() == (ak, sk)
    assert srv.api((ak, sk)).status(ids[0]) == "Running"


def test_secrets_do_not_reach_the_log(server_factory):
    srv = server_factory()
    info = srv.create_tenant()
    key = (info["AccessKeyId"], info["AccessKeySecret"])
    api = srv.api(key)
    api.create(image=IMG_UBUNTU, amount=1, name="log-check")
    api.desktops()
    srv.api(key, v2=True).desktops()
    # failures that print diagnostic text (e.g. the string to sign) must not print the secret either
    expect_error(lambda: srv.api((key[0], "wrong-secret")).desktops(), "SignatureDoesNotMatch", 400)
    expect_error(lambda: srv.api((key[0], "wrong-secret"), v2=True).desktops(), "SignatureDoesNotMatch", 400)
    srv.restart()
    srv.api().desktops()
    log = srv.log_text()
    for secret in (srv.root_key[1], info["AccessKeySecret"]):
        assert secret not in log, "an access key secret appears in the server log"
