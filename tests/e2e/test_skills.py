"""The skill center's catalogue, grants and security policy (ecd 2021-06-02) through the official
SDK: validation codes, tenant isolation, and that what is set survives a restart."""

from __future__ import annotations

from amc_e2e import IMG_UBUNTU, REGION, _config, expect_error


def ecd(server, key):
    from alibabacloud_ecd20210602.client import Client

    return Client(_config(server, key, False))


def m():
    from alibabacloud_ecd20210602 import models

    return models


def secure(client, rids, enabled=True, channel="ENTERPRISE"):
    ids = [m().SetIdentitySkillSecurityRequestIdentityIds(identity_id=r, region_id=REGION) for r in rids]
    return client.set_identity_skill_security(m().SetIdentitySkillSecurityRequest(
        enabled=enabled, identity_ids=ids, skill_channel=channel)).body.to_map()


def secure_list(client, channel="ENTERPRISE", **kw):
    return client.list_secure_skill_identities(
        m().ListSecureSkillIdentitiesRequest(skill_channel=channel, **kw)).body.to_map()


def test_an_empty_catalogue_and_the_channel_rules(server, tenant):
    client = ecd(server, tenant.key)
    body = client.list_skills(m().ListSkillsRequest(skill_channel="ENTERPRISE")).body.to_map()
    assert body["TotalCount"] == 0 and body["Skills"] == [] and body["RequestId"]
    expect_error(lambda: client.list_skills(m().ListSkillsRequest()), "MissingParameter", 400, "SkillChannel")
    expect_error(lambda: client.list_skills(m().ListSkillsRequest(skill_channel="GOLD")),
                 "InvalidParameter", 400, "SkillChannel")
    expect_error(lambda: client.list_skills(m().ListSkillsRequest(skill_channel="ENTERPRISE", page_size=500)),
                 "InvalidParameter", 400, "PageSize")


def test_unknown_tasks_and_skills_are_named(server, tenant):
    client = ecd(server, tenant.key)
    expect_error(lambda: client.get_parse_progress(m().GetParseProgressRequest(task_key="NOPE")),
                 "InvalidTaskKey.NotFound", 404, "NOPE")
    expect_error(lambda: client.create_tenant_skill(m().CreateTenantSkillRequest(task_key="NOPE", slug="x")),
                 "InvalidTaskKey.NotFound", 404)
    expect_error(lambda: client.create_tenant_skill(m().CreateTenantSkillRequest(slug="x")),
                 "MissingParameter", 400, "TaskKey")
    expect_error(lambda: client.create_tenant_skill(m().CreateTenantSkillRequest(task_key="T", env_vars={"1A": "x"})),
                 "InvalidParameter", 400, "EnvVars")
    expect_error(lambda: client.delete_tenant_skills(m().DeleteTenantSkillsRequest(skill_ids=["s-missing"])),
                 "InvalidSkillId.NotFound", 404, "s-missing")
    expect_error(lambda: client.set_tenant_skill_enabled(
        m().SetTenantSkillEnabledRequest(skill_ids=["s-missing"], enabled=False)), "InvalidSkillId.NotFound", 404)
    expect_error(lambda: client.list_skill_authed_identities(
        m().ListSkillAuthedIdentitiesRequest(skill_channel="ENTERPRISE", skill_id="s-missing")),
        "InvalidSkillId.NotFound", 404)
    rid = tenant.create(image=IMG_UBUNTU, name="skills")[0]
    ident = m().SetIdentitySkillAuthRequestIdentities(identity_id=rid, region_id=REGION)
    expect_error(lambda: client.set_identity_skill_auth(m().SetIdentitySkillAuthRequest(
        auto_install=True, identities=[ident], operation_type="SET_AUTH", skill_channel="ENTERPRISE",
        skill_ids=["s-missing"])), "InvalidSkillId.NotFound", 404)
    expect_error(lambda: client.set_identity_skill_auth(m().SetIdentitySkillAuthRequest(
        auto_install=True, identities=[ident], operation_type="GRANT_ALL", skill_channel="ENTERPRISE",
        skill_ids=["s-x"])), "InvalidParameter", 400, "OperationType")


def test_the_security_policy_per_runtime_is_the_tenants_own_and_survives_a_restart(server, tenant):
    client = ecd(server, tenant.key)
    r1, r2 = tenant.create(image=IMG_UBUNTU, name="sec", amount=2)[:2]
    secure(client, [r1, r2])
    body = secure_list(client)
    assert body["TotalCount"] == 2 and sorted(body["Identities"]) == sorted([r1, r2])
    assert secure_list(client, page_size=1, page_number=2)["Identities"] != secure_list(client, page_size=1)["Identities"]
    assert secure_list(client, channel="BUSINESS")["TotalCount"] == 0
    secure(client, [r2], enabled=False)
    assert secure_list(client)["Identities"] == [r1]

    # Another tenant neither sees these runtimes nor may name them.
    other = server.create_tenant()
    other_client = ecd(server, (other["AccessKeyId"], other["AccessKeySecret"]))
    assert secure_list(other_client)["TotalCount"] == 0
    expect_error(lambda: secure(other_client, [r1]), "InvalidRuntimeId.NotFound", 404, r1)
    # A batch naming one unknown runtime changes nothing.
    expect_error(lambda: secure(client, [r2, "ecd-nonexistent0000"]), "InvalidRuntimeId.NotFound", 404)
    assert secure_list(client)["Identities"] == [r1]
    expect_error(lambda: client.set_identity_skill_security(m().SetIdentitySkillSecurityRequest(
        enabled=True, identity_ids=[m().SetIdentitySkillSecurityRequestIdentityIds(identity_id=r1)],
        skill_channel="ENTERPRISE")), "MissingParameter", 400, "RegionId")

    server.restart()
    assert secure_list(ecd(server, tenant.key))["Identities"] == [r1]
