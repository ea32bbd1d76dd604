"""STS 2015-04-01 through the official SDK: AssumeRole into a RAM role (trust policies, session
policies, durations), the temporary key with its security token on every product, GetCallerIdentity,
revocation by deleting the role, the credentials SDK's own ram_role_arn flow, the audit trail, and
roles trusted across accounts."""

from __future__ import annotations

import calendar
import json
import time

import pytest

from amc_e2e import IMG_UBUNTU, REGION, ecd_client, expect_error, json_body, sts_client
from test_ram import (DATE, Ram, allow, audit, custom_policy, denied, describe, doc, ecd_req, new_user, tenant_ram,
                      trust, uname)

V_ECD = "2020-09-30"


def sts_models():
    from alibabacloud_sts20150401 import models

    return models


class Temp:
    """The answer of one AssumeRole: the temporary key, its token, and clients signed with both."""

    def __init__(self, server, body: dict):
        self.server = server
        self.body = body
        c = body["Credentials"]
        self.key = (c["AccessKeyId"], c["AccessKeySecret"])
        self.token = c["SecurityToken"]
        self.expiration = c["Expiration"]
        self.arn = body["AssumedRoleUser"]["Arn"]
        self.assumed_role_id = body["AssumedRoleUser"]["AssumedRoleId"]

    def ecd(self, v2: bool = False, token: str | None = ...):
        return ecd_client(self.server, self.key, v2=v2, security_token=self.token if token is ... else token)

    def ram(self) -> Ram:
        return Ram(self.server, self.key, security_token=self.token)

    def sts(self):
        return sts_client(self.server, self.key, security_token=self.token)


def assume(server, key, role_arn: str, session: str = "session-1", *, security_token: str | None = None,
           **kw) -> Temp:
    m = sts_models()
    req = m.AssumeRoleRequest(role_arn=role_arn, role_session_name=session, **kw)
    body = sts_client(server, key, security_token=security_token).assume_role(req).body.to_map()
    assert body.get("RequestId"), body
    return Temp(server, body)


def assume_call(server, key, role_arn: str, session: str = "session-1", **kw):
    m = sts_models()
    return lambda: sts_client(server, key).assume_role(
        m.AssumeRoleRequest(role_arn=role_arn, role_session_name=session, **kw))


def identity(server, key, security_token: str | None = None) -> dict:
    body = sts_client(server, key, security_token=security_token).get_caller_identity().body.to_map()
    assert body.get("RequestId"), body
    return body


def new_role(ram: Ram, *system: str, name: str | None = None, trusted: tuple[str, ...] | None = None,
             **kw) -> dict:
    """A role trusting ``trusted`` accounts' root (``ram``'s own by default), with system policies."""
    name = name or uname("role")
    role = ram.CreateRole(RoleName=name, AssumeRolePolicyDocument=trust(*(trusted or (ram.account_id,))), **kw)["Role"]
    for p in system:
        ram.AttachPolicyToRole(PolicyType="System", PolicyName=p, RoleName=name)
    return role


def epoch(stamp: str) -> int:
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


@pytest.fixture
def ram(tenant) -> Ram:
    r = Ram(tenant.server, tenant.key, account_id=tenant.info["AccountId"])
    r.api = tenant
    return r


# --------------------------------------------------------------------------------------------------
# roles and AssumeRole


def test_role_lifecycle(ram):
    name = uname("Readers")  # mixed case: the ARN carries it lower-cased
    role = new_role(ram, name=name, Description="ecd readers")
    assert role["RoleName"] == name and role["RoleId"], role
    assert role["Arn"] == f"acs:ram::{ram.account_id}:role/{name.lower()}", role
    assert role["MaxSessionDuration"] == 3600 and DATE.match(role["CreateDate"]), role
    assert json.loads(role["AssumeRolePolicyDocument"]) == json.loads(trust(ram.account_id)), role
    got = ram.GetRole(RoleName=name)["Role"]
    assert (got["RoleId"], got["Arn"], got["Description"]) == (role["RoleId"], role["Arn"], "ecd readers"), got
    assert [r["RoleName"] for r in ram.ListRoles()["Roles"]["Role"]] == [name]

    expect_error(lambda: new_role(ram, name=name), "EntityAlreadyExists.Role", 409)
    ram.AttachPolicyToRole(PolicyType="System", PolicyName="AliyunECDReadOnlyAccess", RoleName=name)
    expect_error(lambda: ram.AttachPolicyToRole(PolicyType="System", PolicyName="AliyunECDReadOnlyAccess",
                                                RoleName=name), "EntityAlreadyExists.Role.Policy", 409)
    expect_error(lambda: ram.DetachPolicyFromRole(PolicyType="System", PolicyName="AliyunECDFullAccess",
                                                  RoleName=name), "EntityNotExist.Role.Policy", 404)
    attached = ram.ListPoliciesForRole(RoleName=name)["Policies"]["Policy"]
    assert [(p["PolicyName"], p["PolicyType"]) for p in attached] == [("AliyunECDReadOnlyAccess", "System")]
    expect_error(lambda: ram.DeleteRole(RoleName=name), "DeleteConflict.Role.Policy", 409)
    ram.DetachPolicyFromRole(PolicyType="System", PolicyName="AliyunECDReadOnlyAccess", RoleName=name)
    ram.DeleteRole(RoleName=name)
    for call in (lambda: ram.GetRole(RoleName=name), lambda: ram.DeleteRole(RoleName=name),
                 lambda: ram.ListPoliciesForRole(RoleName=name),
                 lambda: ram.AttachPolicyToRole(PolicyType="System", PolicyName="AliyunECDReadOnlyAccess",
                                                RoleName=name)):
        expect_error(call, "EntityNotExist.Role", 404)

    for bad in (3599, 43201):
        expect_error(lambda bad=bad: new_role(ram, MaxSessionDuration=bad), "InvalidParameter", 400)
    expect_error(lambda: ram.CreateRole(RoleName=uname("r"), AssumeRolePolicyDocument="{nope"),
                 "MalformedPolicyDocument", 400)


def test_assume_role_gives_a_temporary_key_with_the_roles_permissions(ram):
    desktop = ram.api.create(image=IMG_UBUNTU, name="seen-by-role")[0]
    name = uname("reader")
    role = new_role(ram, "AliyunECDReadOnlyAccess", name=name)
    before = time.time()
    temp = assume(ram.server, ram.key, role["Arn"], "alice-01")
    c = temp.body["Credentials"]
    assert c["AccessKeyId"].startswith("STS.") and c["AccessKeySecret"] and c["SecurityToken"], c
    assert DATE.match(c["Expiration"]), c
    assert abs(epoch(c["Expiration"]) - (before + 3600)) <= 60, c
    assert temp.arn == f"acs:ram::{ram.account_id}:assumed-role/{name}/alice-01", temp.body
    assert temp.assumed_role_id == f"{role['RoleId']}:alice-01", temp.body

    for v2 in (False, True):
        assert [d["DesktopId"] for d in describe(temp.ecd(v2=v2))["Desktops"]] == [desktop]
        detail = denied(lambda v2=v2: temp.ecd(v2=v2).create_desktops(ecd_req(
            "CreateDesktops", bundle_id="b-openclaw-linux", amount=1)), "ecd:CreateDesktops",
            account=ram.account_id, principal_type="AssumedRoleUser", display=f"{name}:alice-01")
        assert detail["EncodedDiagnosticMessage"]
    assert [d["DesktopId"] for d in ram.api.desktops()] == [desktop], "nothing was created"
    denied(lambda: temp.ram().ListUsers(), "ram:ListUsers", account=ram.account_id, principal_type="AssumedRoleUser")


def test_the_token_belongs_to_its_key(ram):
    role = new_role(ram, "AliyunECDReadOnlyAccess")
    temp = assume(ram.server, ram.key, role["Arn"], "one")
    other = assume(ram.server, ram.key, role["Arn"], "two")
    assert temp.key[0] != other.key[0] and temp.token != other.token
    for v2 in (False, True):
        expect_error(lambda v2=v2: describe(temp.ecd(v2=v2, token=None)), "MissingSecurityToken", 400)
        expect_error(lambda v2=v2: describe(temp.ecd(v2=v2, token="not-a-token")),
                     "InvalidSecurityToken.MismatchWithAccessKey", 400)
        expect_error(lambda v2=v2: describe(temp.ecd(v2=v2, token=other.token)),
                     "InvalidSecurityToken.MismatchWithAccessKey", 400)
        # a long-term key with a (valid) token
        expect_error(lambda v2=v2: describe(ecd_client(ram.server, ram.key, v2=v2, security_token=temp.token)),
                     "InvalidSecurityToken.MismatchWithAccessKey", 400)
    # a wrong secret with the right token
    expect_error(lambda: describe(ecd_client(ram.server, (temp.key[0], "x" * 30), security_token=temp.token)),
                 "SignatureDoesNotMatch")
    describe(temp.ecd())
    describe(other.ecd())


def test_a_session_policy_narrows_the_role(ram):
    role = new_role(ram, "AliyunECDFullAccess")
    narrow = doc(allow("ecd:DescribeDesktops"), allow("ram:*"))
    temp = assume(ram.server, ram.key, role["Arn"], "narrow", policy=narrow)
    describe(temp.ecd())
    denied(lambda: temp.ecd().describe_regions(ecd_req("DescribeRegions")),
           "ecd:DescribeRegions", account=ram.account_id, principal_type="AssumedRoleUser",
           policy_type="SessionPolicy")
    # the intersection: what the session allows but the role does not is still denied
    denied(lambda: temp.ram().ListUsers(), "ram:ListUsers", account=ram.account_id, principal_type="AssumedRoleUser")
    # without a session policy the same role may do more
    wide = assume(ram.server, ram.key, role["Arn"], "wide")
    assert wide.ecd().describe_regions(ecd_req("DescribeRegions")).body.to_map()["RequestId"]
    expect_error(assume_call(ram.server, ram.key, role["Arn"], "bad", policy="{not json"),
                 "MalformedPolicyDocument", 400)
    expect_error(assume_call(ram.server, ram.key, role["Arn"], "bad",
                             policy=json.dumps({"Version": "1", "Statement": [{"Effect": "Perhaps", "Action": "*",
                                                                                "Resource": "*"}]})),
                 "MalformedPolicyDocument", 400)


def test_durations_and_parameters(ram):
    role = new_role(ram, "AliyunECDReadOnlyAccess")
    before = time.time()
    short = assume(ram.server, ram.key, role["Arn"], "short", duration_seconds=900)
    assert abs(epoch(short.expiration) - (before + 900)) <= 60, short.expiration
    describe(short.ecd())
    expect_error(assume_call(ram.server, ram.key, role["Arn"], duration_seconds=899), "InvalidParameter", 400)
    expect_error(assume_call(ram.server, ram.key, role["Arn"], duration_seconds=3601), "InvalidParameter", 400)
    long_role = new_role(ram, "AliyunECDReadOnlyAccess", MaxSessionDuration=7200)
    assert long_role["MaxSessionDuration"] == 7200
    before = time.time()
    long = assume(ram.server, ram.key, long_role["Arn"], "long", duration_seconds=7200)
    assert abs(epoch(long.expiration) - (before + 7200)) <= 60, long.expiration
    expect_error(assume_call(ram.server, ram.key, long_role["Arn"], duration_seconds=7201), "InvalidParameter", 400)

    for session in ("a", "has space", "x" * 65, "semi;colon"):
        expect_error(assume_call(ram.server, ram.key, role["Arn"], session), "InvalidParameter", 400)
    for ok in ("ab", "user@example.com", "a.b_c-d", "x" * 64):
        assume(ram.server, ram.key, role["Arn"], ok)
    expect_error(assume_call(ram.server, ram.key, "not-an-arn"), "InvalidParameter", 400)
    expect_error(assume_call(ram.server, ram.key, f"acs:ram::{ram.account_id}:role/{uname('nosuch')}"),
                 "EntityNotExist.Role", 404)


def test_a_ram_user_needs_sts_assume_role(ram):
    role = new_role(ram, "AliyunECDReadOnlyAccess")
    user = new_user(ram)
    denied(assume_call(ram.server, user.key, role["Arn"]), "sts:AssumeRole", account=ram.account_id,
           display=user.name)
    ram.AttachPolicyToUser(PolicyType="System", PolicyName="AliyunSTSAssumeRoleAccess", UserName=user.name)
    temp = assume(ram.server, user.key, role["Arn"], "from-user")
    # the role's permissions, not the user's
    describe(temp.ecd())
    denied(lambda: describe(user.api.ecd), "ecd:DescribeDesktops", account=ram.account_id)
    # an explicit deny of sts:AssumeRole on that role wins
    fence = custom_policy(ram, doc({"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": role["Arn"]}))
    ram.AttachPolicyToUser(PolicyType="Custom", PolicyName=fence, UserName=user.name)
    denied(assume_call(ram.server, user.key, role["Arn"]), "sts:AssumeRole", account=ram.account_id,
           kind="ExplicitDeny")


def test_a_role_trusting_another_account_refuses(ram):
    role = new_role(ram, "AliyunECDReadOnlyAccess", trusted=("1999999999999999",))
    expect_error(assume_call(ram.server, ram.key, role["Arn"]), "NoPermission", 403)
    user = new_user(ram, "AliyunSTSAssumeRoleAccess")
    expect_error(assume_call(ram.server, user.key, role["Arn"]), "NoPermission", 403)


def test_get_caller_identity(ram):
    root = identity(ram.server, ram.key)
    assert root["IdentityType"] == "Account" and root["AccountId"] == ram.account_id, root
    assert root["Arn"] == f"acs:ram::{ram.account_id}:root", root

    who = custom_policy(ram, doc(allow("sts:GetCallerIdentity")))
    user = new_user(ram, custom=(who,))
    user_id = ram.GetUser(UserName=user.name)["User"]["UserId"]
    me = identity(ram.server, user.key)
    assert (me["IdentityType"], me["AccountId"], me["Arn"]) == (
        "RAMUser", ram.account_id, f"acs:ram::{ram.account_id}:user/{user.name}"), me
    assert me["UserId"] == user_id and me["PrincipalId"], me

    role = new_role(ram)
    ram.AttachPolicyToRole(PolicyType="Custom", PolicyName=who, RoleName=role["RoleName"])
    temp = assume(ram.server, ram.key, role["Arn"], "who-am-i")
    them = identity(ram.server, temp.key, temp.token)
    assert (them["IdentityType"], them["AccountId"], them["Arn"]) == (
        "AssumedRoleUser", ram.account_id, temp.arn), them
    assert them["RoleId"] == role["RoleId"] and them["PrincipalId"], them


def test_deleting_the_role_revokes_its_temporary_keys(ram):
    role = new_role(ram, "AliyunECDReadOnlyAccess")
    temp = assume(ram.server, ram.key, role["Arn"], "doomed")
    describe(temp.ecd())
    expect_error(lambda: ram.DeleteRole(RoleName=role["RoleName"]), "DeleteConflict.Role.Policy", 409)
    ram.DetachPolicyFromRole(PolicyType="System", PolicyName="AliyunECDReadOnlyAccess", RoleName=role["RoleName"])
    # a detached policy takes effect on the next call
    denied(lambda: describe(temp.ecd()), "ecd:DescribeDesktops", account=ram.account_id,
           principal_type="AssumedRoleUser")
    ram.DeleteRole(RoleName=role["RoleName"])
    for v2 in (False, True):
        expect_error(lambda v2=v2: describe(temp.ecd(v2=v2)), "InvalidAccessKeyId.NotFound", 404)
    # a new role of the same name is a new role: the old keys stay dead
    new_role(ram, "AliyunECDReadOnlyAccess", name=role["RoleName"])
    expect_error(lambda: describe(temp.ecd()), "InvalidAccessKeyId.NotFound", 404)


def test_temporary_keys_cannot_manage_keys_or_escalate(ram):
    role = new_role(ram, "AliyunRAMReadOnlyAccess", "AliyunSTSAssumeRoleAccess")
    temp = assume(ram.server, ram.key, role["Arn"], "reader")
    assert temp.ram().ListPolicies(PolicyType="System")["Policies"]["Policy"]
    denied(lambda: temp.ram().AttachPolicyToRole(PolicyType="System", PolicyName="AdministratorAccess",
                                                 RoleName=role["RoleName"]),
           "ram:AttachPolicyToRole", account=ram.account_id, principal_type="AssumedRoleUser")
    denied(lambda: temp.ram().CreateUser(UserName=uname()), "ram:CreateUser", account=ram.account_id,
           principal_type="AssumedRoleUser")


def test_the_credentials_sdk_ram_role_arn_flow(ram):
    """alibabacloud_credentials' own AssumeRole (type 'ram_role_arn', V2-signed GET) against amc: its
    sts_endpoint takes a full http:// URL, and the ecd SDK signs with the temporary key and token it
    returns."""
    from alibabacloud_credentials.client import Client as CredentialClient
    from alibabacloud_credentials.models import Config as CredentialConfig
    from alibabacloud_ecd20200930.client import Client as Ecd
    from alibabacloud_tea_openapi import models as open_api_models

    desktop = ram.api.create(image=IMG_UBUNTU, name="via-credentials")[0]
    name = uname("cred")
    role = new_role(ram, "AliyunECDReadOnlyAccess", name=name)
    cred = CredentialClient(CredentialConfig(
        type="ram_role_arn", access_key_id=ram.key[0], access_key_secret=ram.key[1], role_arn=role["Arn"],
        role_session_name="sdk-session", role_session_expiration=900,
        sts_endpoint=f"http://127.0.0.1:{ram.server.port}"))
    got = cred.get_credential()
    assert got.access_key_id.startswith("STS.") and got.security_token, got.to_map()

    client = Ecd(open_api_models.Config(credential=cred, endpoint=f"127.0.0.1:{ram.server.port}", protocol="http",
                                        region_id=REGION, read_timeout=30000, connect_timeout=5000))
    assert [d["DesktopId"] for d in describe(client)["Desktops"]] == [desktop]
    denied(lambda: client.stop_desktops(ecd_req("StopDesktops", desktop_id=[desktop])),
           "ecd:StopDesktops", account=ram.account_id, principal_type="AssumedRoleUser",
           display=f"{name}:sdk-session")


def test_temporary_keys_are_audited_by_their_sts_key_id(ram):
    started = int(time.time() * 1000)
    role = new_role(ram, "AliyunECDReadOnlyAccess")
    temp = assume(ram.server, ram.key, role["Arn"], "audited")
    # hand-signed V3 with the token as a signed header
    import requests

    from amc_e2e import sign_v3_headers

    headers = sign_v3_headers("POST", ram.server.host, "StopDesktops", V_ECD, {"RegionId": REGION,
                                                                               "DesktopId.1": "ecd-x"},
                              b"", None, temp.key[0], temp.key[1],
                              extra_headers={"x-acs-security-token": temp.token})
    resp = requests.post(f"{ram.server.url}/?RegionId={REGION}&DesktopId.1=ecd-x", headers=headers, timeout=30)
    refused = json_body(resp)
    assert resp.status_code == 403 and refused["Code"] == "Forbidden.RAM", refused
    rows = audit(ram.server, "--principal", temp.key[0], "--since", str(started))
    assert [(r["Action"], r["Code"], r["RequestId"], r["Principal"]) for r in rows] == [
        ("StopDesktops", "Forbidden.RAM", refused["RequestId"], temp.key[0])], rows
    out = ram.server.admin("audit", "--since", str(started), *ram.server.store_args()).stdout
    assert temp.token not in out and temp.key[1] not in out


# --------------------------------------------------------------------------------------------------
# across accounts


def test_another_account_assumes_a_role_only_when_trusted(ram, server):
    desktop = ram.api.create(image=IMG_UBUNTU, name="a-desktop")[0]
    b = tenant_ram(server)
    b.api.create(image=IMG_UBUNTU, name="b-desktop")
    private = new_role(ram, "AliyunECDReadOnlyAccess")
    expect_error(assume_call(server, b.key, private["Arn"]), "NoPermission", 403)

    name = uname("shared")
    shared = new_role(ram, "AliyunECDReadOnlyAccess", name=name, trusted=(b.account_id,))
    temp = assume(server, b.key, shared["Arn"], "from-b")
    assert temp.arn == f"acs:ram::{ram.account_id}:assumed-role/{name}/from-b", temp.body
    # the temporary key acts in A's account with the role's permissions
    assert [d["DesktopId"] for d in describe(temp.ecd())["Desktops"]] == [desktop]
    denied(lambda: temp.ecd().stop_desktops(ecd_req("StopDesktops", desktop_id=[desktop])),
           "ecd:StopDesktops", account=ram.account_id, principal_type="AssumedRoleUser", display=f"{name}:from-b")
    assert ram.api.status(desktop) == "Running"
    # B's RAM user with sts:AssumeRole is one of B's identities: trusted too
    user = new_user(b, "AliyunSTSAssumeRoleAccess")
    from_user = assume(server, user.key, shared["Arn"], "b-user")
    assert [d["DesktopId"] for d in describe(from_user.ecd())["Desktops"]] == [desktop]
    # and A's own root is not trusted by a role that names B only
    expect_error(assume_call(server, ram.key, shared["Arn"]), "NoPermission", 403)


def test_sts_assume_role_permission_is_per_role_arn(ram):
    role_a = new_role(ram, "AliyunECDReadOnlyAccess")
    role_b = new_role(ram, "AliyunECDReadOnlyAccess")
    only_a = custom_policy(ram, doc(allow("sts:AssumeRole", role_a["Arn"])))
    user = new_user(ram, custom=(only_a,))
    describe(assume(ram.server, user.key, role_a["Arn"]).ecd())
    denied(assume_call(ram.server, user.key, role_b["Arn"]), "sts:AssumeRole", account=ram.account_id,
           display=user.name, names=role_b["Arn"])


def test_a_session_policy_deny_is_an_explicit_deny(ram):
    role = new_role(ram, "AliyunECDFullAccess")
    session = doc(allow("ecd:*"), {"Effect": "Deny", "Action": "ecd:StopDesktops", "Resource": "*"})
    temp = assume(ram.server, ram.key, role["Arn"], "fenced", policy=session)
    describe(temp.ecd())
    denied(lambda: temp.ecd().stop_desktops(ecd_req("StopDesktops", desktop_id=["ecd-any"])), "ecd:StopDesktops",
           account=ram.account_id, principal_type="AssumedRoleUser", kind="ExplicitDeny",
           policy_type="SessionPolicy")


def test_temporary_keys_on_every_product_and_signature(ram):
    from alibabacloud_appstream_center20210901 import models as a
    from alibabacloud_appstream_center20210901.client import Client as Appstream
    from alibabacloud_wss20211221 import models as w
    from alibabacloud_wss20211221.client import Client as Wss

    from amc_e2e import _config, raw_v2, raw_v2_form

    desktop = ram.api.create(image=IMG_UBUNTU, name="every")[0]
    role = new_role(ram, "AliyunECDReadOnlyAccess", "AliyunAppStreamingReadOnlyAccess", "AliyunWSSReadOnlyAccess")
    temp = assume(ram.server, ram.key, role["Arn"], "everywhere")
    # AssumeRole itself signed with V2
    m = sts_models()
    v2_body = sts_client(ram.server, ram.key, v2=True).assume_role(
        m.AssumeRoleRequest(role_arn=role["Arn"], role_session_name="v2-session")).body.to_map()
    assert v2_body["Credentials"]["AccessKeyId"].startswith("STS."), v2_body

    cfg = _config(ram.server, temp.key, False, temp.token)
    assert Appstream(cfg).list_model_provider_templates(a.ListModelProviderTemplatesRequest(
        agent_provider="OpenClaw", biz_type=1)).body.to_map()["RequestId"]
    assert Wss(cfg).describe_run_id_deductions(w.DescribeRunIdDeductionsRequest()).body.to_map()["RequestId"]
    # hand-signed V2: the token in the query, and in a form body
    got = json_body(raw_v2(ram.server, "DescribeDesktops", V_ECD, {"RegionId": REGION, "SecurityToken": temp.token},
                           key=temp.key))
    assert [d["DesktopId"] for d in got["Desktops"]] == [desktop], got
    got = json_body(raw_v2_form(ram.server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=temp.key,
                                extra={"SecurityToken": temp.token}))
    assert [d["DesktopId"] for d in got["Desktops"]] == [desktop], got
    refused = json_body(raw_v2_form(ram.server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=temp.key))
    assert refused["Code"] == "MissingSecurityToken", refused


def test_the_default_duration_is_an_hour_whatever_the_maximum(ram):
    role = new_role(ram, "AliyunECDReadOnlyAccess", MaxSessionDuration=43200)
    before = time.time()
    temp = assume(ram.server, ram.key, role["Arn"], "default")
    assert abs(epoch(temp.expiration) - (before + 3600)) <= 60, temp.expiration
    longest = assume(ram.server, ram.key, role["Arn"], "longest", duration_seconds=43200)
    assert abs(epoch(longest.expiration) - (before + 43200)) <= 60, longest.expiration


def test_node_pop_core_drives_ram_and_sts(server, tenant):
    """The same least-privilege story through another language's official client
    (`@alicloud/pop-core`, V2 signatures, POST form bodies): a RAM user allowed only
    `sts:AssumeRole` takes a read-only role, and its temporary key reads but cannot write."""
    from amc_e2e import pop_core

    account = tenant.info["AccountId"]
    trust = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                       "Principal": {"RAM": [f"acs:ram::{account}:root"]}}]})
    ram = "2015-05-01"
    setup = pop_core(server, [
        {"version": ram, "action": "CreateUser", "params": {"UserName": "node-bot"}},
        {"version": ram, "action": "CreateAccessKey", "params": {"UserName": "node-bot"}},
        {"version": ram, "action": "AttachPolicyToUser", "params": {
            "PolicyType": "System", "PolicyName": "AliyunSTSAssumeRoleAccess", "UserName": "node-bot"}},
        {"version": ram, "action": "CreateRole", "params": {
            "RoleName": "node-reader", "AssumeRolePolicyDocument": trust}},
        {"version": ram, "action": "AttachPolicyToRole", "params": {
            "PolicyType": "System", "PolicyName": "AliyunECDReadOnlyAccess", "RoleName": "node-reader"}},
    ], key=tenant.key)
    assert all(r["ok"] for r in setup), setup
    user_key = (setup[1]["body"]["AccessKey"]["AccessKeyId"], setup[1]["body"]["AccessKey"]["AccessKeySecret"])
    role_arn = setup[3]["body"]["Role"]["Arn"]

    as_user = pop_core(server, [
        {"version": "2015-04-01", "action": "AssumeRole",
         "params": {"RoleArn": role_arn, "RoleSessionName": "node", "DurationSeconds": 900}},
        {"version": "2020-09-30", "action": "DescribeDesktops", "params": {"RegionId": "cn-hangzhou"}},
    ], key=user_key)
    assert as_user[0]["ok"], as_user
    assert (as_user[1]["code"], as_user[1]["status"]) == ("Forbidden.RAM", 403), as_user[1]
    credentials = as_user[0]["body"]["Credentials"]
    assert credentials["AccessKeyId"].startswith("STS.")

    temporary = (credentials["AccessKeyId"], credentials["AccessKeySecret"])
    session = pop_core(server, [
        {"version": "2020-09-30", "action": "DescribeDesktops", "params": {"RegionId": "cn-hangzhou"}},
        {"version": "2020-09-30", "action": "DescribeDesktops", "params": {"RegionId": "cn-hangzhou"},
         "method": "GET"},
        {"version": "2020-09-30", "action": "StopDesktops",
         "params": {"RegionId": "cn-hangzhou", "DesktopId.1": "ecd-nothing"}},
        {"version": "2015-04-01", "action": "GetCallerIdentity"},
    ], key=temporary, security_token=credentials["SecurityToken"])
    assert session[0]["ok"] and session[1]["ok"], session
    assert session[2]["code"] == "Forbidden.RAM", session[2]
    assert session[2]["body"]["AccessDeniedDetail"]["AuthPrincipalType"] == "AssumedRoleUser"
    assert session[3]["body"]["IdentityType"] == "AssumedRoleUser"
    assert session[3]["body"]["Arn"] == f"acs:ram::{account}:assumed-role/node-reader/node"

    without_token = pop_core(server, [
        {"version": "2020-09-30", "action": "DescribeDesktops", "params": {"RegionId": "cn-hangzhou"}},
    ], key=temporary)
    assert without_token[0]["code"] == "MissingSecurityToken", without_token


def test_amc_call_signs_with_a_temporary_key(ram):
    """`amc call` from the shell with a temporary key: its token comes from `AMC_SECURITY_TOKEN`
    (or `--security-token`), signed with V3 and V2 alike."""
    import os
    import subprocess

    role = new_role(ram, "AliyunECDReadOnlyAccess")
    temp = assume(ram.server, ram.key, role["Arn"], "shell")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMC_")}
    env.update(AMC_ACCESS_KEY_ID=temp.key[0], AMC_ACCESS_KEY_SECRET=temp.key[1])

    def call(*args, token: str | None = temp.token):
        run_env = dict(env)
        if token is not None:
            run_env["AMC_SECURITY_TOKEN"] = token
        done = subprocess.run([ram.server.binary, "call", "DescribeDesktops", "--Version", "2020-09-30",
                               "--RegionId", REGION, "--endpoint", ram.server.url, *args],
                              capture_output=True, text=True, timeout=60, env=run_env)
        return done.returncode, json.loads(done.stdout)

    for signature in ("v3", "v2"):
        code, body = call("--signature", signature)
        assert code == 0 and "Desktops" in body, body
    code, body = call(token=None)
    assert code == 1 and body["Code"] == "MissingSecurityToken", body
    code, body = call("--security-token", "CAISwrong", token=None)
    assert code == 1 and body["Code"] == "InvalidSecurityToken.MismatchWithAccessKey", body
