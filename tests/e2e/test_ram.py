"""RAM 2015-05-01 through the official SDK: users, access keys, policies and their versions, roles; and
what a RAM user's key may do on every product (ecd, appstream-center, wss, resourcemanager, ram):
least privilege on actions and resource ARNs, explicit denies, conditions, the 403 Forbidden.RAM
answer with its AccessDeniedDetail, the audit trail, persistence, and tenants kept apart."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from test_tls import certificate  # noqa: F401  (the fixture: a CA and a server certificate)
from amc_e2e import (IMG_UBUNTU, REGION, _config, core_call, ecd_client, expect_error, json_body, ram_client,
                     raw_v3)

V_ECD = "2020-09-30"
V_RAM = "2015-05-01"
DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

SYSTEM_POLICIES = [
    "AdministratorAccess", "ReadOnlyAccess",
    "AliyunAppStreamingFullAccess", "AliyunAppStreamingReadOnlyAccess",
    "AliyunECDFullAccess", "AliyunECDReadOnlyAccess",
    "AliyunWSSFullAccess", "AliyunWSSReadOnlyAccess",
    "AliyunResourceManagerFullAccess", "AliyunResourceManagerReadOnlyAccess",
    "AliyunRAMFullAccess", "AliyunRAMReadOnlyAccess",
    "AliyunSTSAssumeRoleAccess",
]


# --------------------------------------------------------------------------------------------------
# helpers


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def ram_models():
    from alibabacloud_ram20150501 import models

    return models


class Ram:
    """One principal's RAM SDK client: ``ram.CreateUser(UserName="alice")`` sends CreateUser through
    ``alibabacloud_ram20150501`` (parameters by their wire names) and returns the response body as
    the SDK's model maps it."""

    def __init__(self, server, key, *, v2: bool = False, security_token: str | None = None,
                 account_id: str | None = None, client=None, runtime=None):
        self.server, self.key, self.account_id = server, key, account_id
        self.client = client or ram_client(server, key, v2=v2, security_token=security_token)
        self.runtime = runtime

    def __getattr__(self, action: str):
        if not action[:1].isupper():
            raise AttributeError(action)

        def call(**params):
            from darabonba.runtime import RuntimeOptions

            req = getattr(ram_models(), f"{action}Request")(**{_snake(k): v for k, v in params.items()})
            fn = getattr(self.client, f"{_snake(action)}_with_options")
            body = fn(req, self.runtime or RuntimeOptions()).body.to_map()
            assert body.get("RequestId"), f"{action} answered without RequestId: {body}"
            return body

        return call


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements)})


def allow(action, resource="*", condition: dict | None = None) -> dict:
    s = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        s["Condition"] = condition
    return s


def deny(action, resource="*", condition: dict | None = None) -> dict:
    s = allow(action, resource, condition)
    s["Effect"] = "Deny"
    return s


def uname(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def custom_policy(ram: Ram, document: str, name: str | None = None, description: str | None = None) -> str:
    name = name or uname("p")
    body = ram.CreatePolicy(PolicyName=name, PolicyDocument=document, Description=description)
    assert body["Policy"]["PolicyName"] == name and body["Policy"]["PolicyType"] == "Custom", body
    return name


class User:
    """A RAM user with an access key, and that key's SDK clients."""

    def __init__(self, server, name: str, key: tuple[str, str], account_id: str | None):
        self.server, self.name, self.key = server, name, key
        self.api = server.api(key)
        self.ram = Ram(server, key, account_id=account_id)

    def v2(self):
        return ecd_client(self.server, self.key, v2=True)


def new_user(ram: Ram, *system: str, custom: tuple[str, ...] = (), name: str | None = None) -> User:
    """A RAM user of ``ram``'s account with one access key and the given policies attached."""
    name = name or uname()
    ram.CreateUser(UserName=name)
    ak = ram.CreateAccessKey(UserName=name)["AccessKey"]
    for p in system:
        ram.AttachPolicyToUser(PolicyType="System", PolicyName=p, UserName=name)
    for p in custom:
        ram.AttachPolicyToUser(PolicyType="Custom", PolicyName=p, UserName=name)
    return User(ram.server, name, (ak["AccessKeyId"], ak["AccessKeySecret"]), ram.account_id)


def denied(fn, action: str, *, account: str | None, display: str | None = None, principal_type: str = "SubUser",
           kind: str = "ImplicitDeny", names: str | None = None, policy_type: str | None = None) -> dict:
    """``fn`` is refused with 403 Forbidden.RAM; its AccessDeniedDetail names ``action``, the
    principal and the kind of deny. Returns the detail."""
    exc = expect_error(fn, "Forbidden.RAM", 403, names=names)
    detail = getattr(exc, "access_denied_detail", None)
    assert isinstance(detail, dict) and detail, f"Forbidden.RAM without AccessDeniedDetail: {getattr(exc, 'data', exc)}"
    assert detail.get("AuthAction") == action, detail
    assert detail.get("NoPermissionType") == kind, detail
    assert detail.get("AuthPrincipalType") == principal_type, detail
    if account is not None:
        assert str(detail.get("AuthPrincipalOwnerId")) == str(account), detail
    if display is not None:
        assert detail.get("AuthPrincipalDisplayName") == display, detail
    if policy_type is not None:
        assert detail.get("PolicyType") == policy_type, detail
    assert detail.get("EncodedDiagnosticMessage"), detail
    return detail


def ecd_req(name: str, **kw):
    from alibabacloud_ecd20200930 import models as m

    kw.setdefault("region_id", REGION)
    return getattr(m, f"{name}Request")(**kw)


def describe(client) -> dict:
    return client.describe_desktops(ecd_req("DescribeDesktops")).body.to_map()


def ecd2021(server, key, security_token=None):
    from alibabacloud_ecd20210602.client import Client

    return Client(_config(server, key, False, security_token))


def ecd2021_models():
    from alibabacloud_ecd20210602 import models

    return models


def audit(server, *filters: str) -> list[dict]:
    out = server.admin("audit", *filters, *server.store_args())
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def tenant_ram(server) -> Ram:
    """A fresh tenant's root RAM client (``.account_id``, ``.api``: its other SDK clients)."""
    info = server.create_tenant()
    key = (info["AccessKeyId"], info["AccessKeySecret"])
    ram = Ram(server, key, account_id=info["AccountId"])
    ram.api = server.api(key)
    return ram


@pytest.fixture
def ram(tenant) -> Ram:
    r = Ram(tenant.server, tenant.key, account_id=tenant.info["AccountId"])
    r.api = tenant
    return r


# --------------------------------------------------------------------------------------------------
# users


def test_user_lifecycle(ram):
    name = uname("alice")
    created = ram.CreateUser(UserName=name, DisplayName="Alice", Comments="first user", Email="alice@example.com",
                             MobilePhone="86-18600000000")["User"]
    assert created["UserName"] == name and created["DisplayName"] == "Alice", created
    assert created["Comments"] == "first user" and created["UserId"], created
    assert DATE.match(created["CreateDate"]), created

    got = ram.GetUser(UserName=name)["User"]
    assert (got["UserId"], got["UserName"], got["DisplayName"], got["Comments"]) == (
        created["UserId"], name, "Alice", "first user"), got
    assert DATE.match(got["CreateDate"]) and DATE.match(got["UpdateDate"]), got

    renamed = uname("alicia")
    ram.UpdateUser(UserName=name, NewUserName=renamed, NewDisplayName="Alicia", NewComments="renamed")
    expect_error(lambda: ram.GetUser(UserName=name), "EntityNotExist.User", 404)
    got = ram.GetUser(UserName=renamed)["User"]
    assert (got["UserId"], got["UserName"], got["DisplayName"], got["Comments"]) == (
        created["UserId"], renamed, "Alicia", "renamed"), got

    listed = ram.ListUsers()["Users"]["User"]
    assert [u["UserName"] for u in listed] == [renamed], listed
    assert listed[0]["UserId"] == created["UserId"]

    ram.DeleteUser(UserName=renamed)
    expect_error(lambda: ram.GetUser(UserName=renamed), "EntityNotExist.User", 404)
    expect_error(lambda: ram.DeleteUser(UserName=renamed), "EntityNotExist.User", 404)
    assert (ram.ListUsers().get("Users") or {}).get("User") in (None, [])


def test_duplicate_and_missing_users(ram):
    a, b = uname("a"), uname("b")
    ram.CreateUser(UserName=a)
    ram.CreateUser(UserName=b)
    expect_error(lambda: ram.CreateUser(UserName=a), "EntityAlreadyExists.User", 409)
    expect_error(lambda: ram.UpdateUser(UserName=a, NewUserName=b), "EntityAlreadyExists.User", 409)
    assert ram.GetUser(UserName=a)["User"]["UserName"] == a

    ghost = uname("ghost")
    for call in (lambda: ram.GetUser(UserName=ghost),
                 lambda: ram.UpdateUser(UserName=ghost, NewDisplayName="x"),
                 lambda: ram.DeleteUser(UserName=ghost),
                 lambda: ram.CreateAccessKey(UserName=ghost),
                 lambda: ram.ListAccessKeys(UserName=ghost),
                 lambda: ram.ListPoliciesForUser(UserName=ghost),
                 lambda: ram.AttachPolicyToUser(PolicyType="System", PolicyName="AliyunECDReadOnlyAccess",
                                                UserName=ghost)):
        expect_error(call, "EntityNotExist.User", 404)


@pytest.mark.parametrize("bad", ["has space", "slash/name", "semi;colon", "x" * 65, "名字"])
def test_invalid_user_names_are_refused(ram, bad):
    expect_error(lambda: ram.CreateUser(UserName=bad), "InvalidParameter", 400)
    ok = uname()
    ram.CreateUser(UserName=ok)
    expect_error(lambda: ram.UpdateUser(UserName=ok, NewUserName=bad), "InvalidParameter", 400)
    assert [u["UserName"] for u in ram.ListUsers()["Users"]["User"]] == [ok]


def test_create_user_without_a_name_is_missing_parameter(ram):
    expect_error(lambda: ram.CreateUser(DisplayName="nobody"), "MissingParameter", 400)


def test_list_users_pages_with_max_items_and_marker(ram):
    names = {uname(f"page{i}") for i in range(5)}
    for n in sorted(names):
        ram.CreateUser(UserName=n)
    everything = ram.ListUsers()
    assert {u["UserName"] for u in everything["Users"]["User"]} == names
    assert not everything.get("IsTruncated"), everything

    seen, sizes, marker = [], [], None
    for _ in range(10):
        page = ram.ListUsers(MaxItems=2, Marker=marker)
        users = page["Users"]["User"]
        sizes.append(len(users))
        seen += [u["UserName"] for u in users]
        if not page.get("IsTruncated"):
            assert not page.get("Marker"), page
            break
        marker = page["Marker"]
        assert marker, page
    assert sizes == [2, 2, 1], sizes
    assert len(seen) == 5 and set(seen) == names, seen

    for bad in (0, 1001):
        expect_error(lambda bad=bad: ram.ListUsers(MaxItems=bad), "InvalidParameter", 400)


def test_delete_user_is_refused_while_keys_or_policies_remain(ram):
    name = uname()
    ram.CreateUser(UserName=name)
    key = ram.CreateAccessKey(UserName=name)["AccessKey"]["AccessKeyId"]
    expect_error(lambda: ram.DeleteUser(UserName=name), "DeleteConflict.User.AccessKey", 409)
    ram.DeleteAccessKey(UserName=name, UserAccessKeyId=key)
    ram.AttachPolicyToUser(PolicyType="System", PolicyName="AliyunECDReadOnlyAccess", UserName=name)
    expect_error(lambda: ram.DeleteUser(UserName=name), "DeleteConflict.User.Policy", 409)
    assert ram.GetUser(UserName=name)["User"]["UserName"] == name
    ram.DetachPolicyFromUser(PolicyType="System", PolicyName="AliyunECDReadOnlyAccess", UserName=name)
    ram.DeleteUser(UserName=name)
    expect_error(lambda: ram.GetUser(UserName=name), "EntityNotExist.User", 404)


def test_users_keys_policies_and_roles_survive_a_restart(server_factory):
    srv = server_factory()
    ram = tenant_ram(srv)
    desktop = ram.api.create(image=IMG_UBUNTU, name="persist")[0]
    policy = custom_policy(ram, doc(allow("ecd:DescribeDesktops")), description="describe only")
    user = new_user(ram, custom=(policy,))
    role = uname("role")
    ram.CreateRole(RoleName=role, AssumeRolePolicyDocument=json.dumps({
        "Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                       "Principal": {"RAM": [f"acs:ram::{ram.account_id}:root"]}}]}))
    ram.AttachPolicyToRole(PolicyType="System", PolicyName="AliyunECDReadOnlyAccess", RoleName=role)
    before_user = ram.GetUser(UserName=user.name)["User"]
    assert [d["DesktopId"] for d in describe(user.api.ecd)["Desktops"]] == [desktop]

    srv.restart()

    assert ram.GetUser(UserName=user.name)["User"] == before_user
    assert [k["AccessKeyId"] for k in ram.ListAccessKeys(UserName=user.name)["AccessKeys"]["AccessKey"]] == [user.key[0]]
    attached = ram.ListPoliciesForUser(UserName=user.name)["Policies"]["Policy"]
    assert [(p["PolicyName"], p["PolicyType"]) for p in attached] == [(policy, "Custom")]
    assert ram.GetPolicy(PolicyName=policy, PolicyType="Custom")["Policy"]["Description"] == "describe only"
    assert ram.GetRole(RoleName=role)["Role"]["RoleName"] == role
    assert [p["PolicyName"] for p in ram.ListPoliciesForRole(RoleName=role)["Policies"]["Policy"]] == [
        "AliyunECDReadOnlyAccess"]
    # the key still signs, with the same permissions
    assert [d["DesktopId"] for d in describe(user.api.ecd)["Desktops"]] == [desktop]
    denied(lambda: user.api.stop([desktop]), "ecd:StopDesktops", account=ram.account_id, display=user.name)


# --------------------------------------------------------------------------------------------------
# access keys


def test_a_users_key_signs_v3_and_v2_and_acts_in_its_tenant(ram, server):
    desktop = ram.api.create(image=IMG_UBUNTU, name="seen")[0]
    other = tenant_ram(server)
    other.api.create(image=IMG_UBUNTU, name="not-seen")
    user = new_user(ram, "AliyunECDReadOnlyAccess")
    assert user.key[0] != ram.key[0] and len(user.key[1]) >= 16
    assert [d["DesktopId"] for d in describe(user.api.ecd)["Desktops"]] == [desktop]
    assert [d["DesktopId"] for d in describe(user.v2())["Desktops"]] == [desktop]
    # aliyun-python-sdk-core (the aliyun CLI's signer), V2 in the query
    body = core_call(server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=user.key)
    assert [d["DesktopId"] for d in body["Desktops"]] == [desktop]


def test_a_user_without_policies_is_denied_with_detail(ram):
    user = new_user(ram)
    for client in (user.api.ecd, user.v2()):
        detail = denied(lambda client=client: describe(client), "ecd:DescribeDesktops", account=ram.account_id,
                        display=user.name, policy_type="AccountLevelIdentityBasedPolicy")
        assert detail["AuthPrincipalDisplayName"] == user.name
    # the raw answer: HTTP 403 with AccessDeniedDetail in the JSON error body
    resp = raw_v3(ram.server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=user.key)
    body = json_body(resp)
    assert resp.status_code == 403 and body["Code"] == "Forbidden.RAM", body
    assert body["AccessDeniedDetail"]["AuthAction"] == "ecd:DescribeDesktops", body
    for field in ("RequestId", "HostId", "Message", "Recommend"):
        assert body.get(field), body


def test_list_access_keys_never_shows_a_secret_and_a_third_key_is_refused(ram):
    user = new_user(ram)
    second = ram.CreateAccessKey(UserName=user.name)["AccessKey"]
    assert second["Status"] == "Active" and DATE.match(second["CreateDate"]) and second["AccessKeySecret"], second
    assert second["AccessKeyId"] != user.key[0]
    keys = ram.ListAccessKeys(UserName=user.name)["AccessKeys"]["AccessKey"]
    assert sorted(k["AccessKeyId"] for k in keys) == sorted([user.key[0], second["AccessKeyId"]])
    for k in keys:
        assert k["Status"] == "Active" and DATE.match(k["CreateDate"]), k
    raw = raw_v3(ram.server, "ListAccessKeys", V_RAM, {"UserName": user.name}, key=ram.key)
    assert raw.status_code == 200, raw.text
    assert user.key[1] not in raw.text and second["AccessKeySecret"] not in raw.text, raw.text
    assert "AccessKeySecret" not in raw.text, raw.text

    expect_error(lambda: ram.CreateAccessKey(UserName=user.name), "LimitExceeded.User.AccessKey", 409)
    assert len(ram.ListAccessKeys(UserName=user.name)["AccessKeys"]["AccessKey"]) == 2


def test_inactive_and_deleted_keys_are_refused(ram):
    user = new_user(ram, "AliyunECDReadOnlyAccess")
    describe(user.api.ecd)
    ram.UpdateAccessKey(UserName=user.name, UserAccessKeyId=user.key[0], Status="Inactive")
    assert [k["Status"] for k in ram.ListAccessKeys(UserName=user.name)["AccessKeys"]["AccessKey"]] == ["Inactive"]
    expect_error(lambda: describe(user.api.ecd), "InvalidAccessKeyId.Inactive")
    expect_error(lambda: describe(user.v2()), "InvalidAccessKeyId.Inactive")
    ram.UpdateAccessKey(UserName=user.name, UserAccessKeyId=user.key[0], Status="Active")
    describe(user.api.ecd)
    expect_error(lambda: ram.UpdateAccessKey(UserName=user.name, UserAccessKeyId=user.key[0], Status="Paused"),
                 "InvalidParameter", 400)
    ram.DeleteAccessKey(UserName=user.name, UserAccessKeyId=user.key[0])
    expect_error(lambda: describe(user.api.ecd), "InvalidAccessKeyId.NotFound", 404)
    assert (ram.ListAccessKeys(UserName=user.name).get("AccessKeys") or {}).get("AccessKey") in (None, [])
    expect_error(lambda: ram.DeleteAccessKey(UserName=user.name, UserAccessKeyId=user.key[0]),
                 "EntityNotExist.User.AccessKey", 404)
    expect_error(lambda: ram.UpdateAccessKey(UserName=user.name, UserAccessKeyId="LTAInosuchkey0000000",
                                             Status="Inactive"), "EntityNotExist.User.AccessKey", 404)


def test_key_actions_without_a_user_name_act_on_the_caller(ram):
    # root: the account's own keys
    roots = ram.ListAccessKeys()["AccessKeys"]["AccessKey"]
    assert ram.key[0] in [k["AccessKeyId"] for k in roots], roots
    extra = ram.CreateAccessKey()["AccessKey"]
    extra_key = (extra["AccessKeyId"], extra["AccessKeySecret"])
    assert extra["AccessKeyId"] in [k["AccessKeyId"] for k in ram.ListAccessKeys()["AccessKeys"]["AccessKey"]]
    # a key created for root is a root key: not subject to policies
    Ram(ram.server, extra_key).CreateUser(UserName=uname("by-new-root-key"))
    ram.DeleteAccessKey(UserAccessKeyId=extra["AccessKeyId"])
    expect_error(lambda: describe(ecd_client(ram.server, extra_key)), "InvalidAccessKeyId.NotFound", 404)

    # a RAM user: itself
    user = new_user(ram, "AliyunRAMReadOnlyAccess")
    own = user.ram.ListAccessKeys()["AccessKeys"]["AccessKey"]
    assert [k["AccessKeyId"] for k in own] == [user.key[0]], own


# --------------------------------------------------------------------------------------------------
# least privilege


def test_ecd_read_only_allows_reads_only(ram):
    desktop = ram.api.create(image=IMG_UBUNTU, name="ro")[0]
    user = new_user(ram, "AliyunECDReadOnlyAccess")
    attached = ram.ListPoliciesForUser(UserName=user.name)["Policies"]["Policy"]
    assert [(p["PolicyName"], p["PolicyType"]) for p in attached] == [("AliyunECDReadOnlyAccess", "System")]
    assert DATE.match(attached[0]["AttachDate"]), attached

    assert [d["DesktopId"] for d in describe(user.api.ecd)["Desktops"]] == [desktop]
    acct = ram.account_id
    denied(lambda: user.api.create(image=IMG_UBUNTU, name="nope"), "ecd:CreateDesktops", account=acct,
           display=user.name)
    denied(lambda: user.api.start([desktop]), "ecd:StartDesktops", account=acct)
    denied(lambda: user.api.stop([desktop]), "ecd:StopDesktops", account=acct)
    assert ram.api.status(desktop) == "Running"
    assert [d["DesktopId"] for d in ram.api.desktops()] == [desktop], "nothing was created"

    # ecd 2021-06-02: a List is a read; GetOssStsToken is not
    c, m = ecd2021(ram.server, user.key), ecd2021_models()
    assert c.list_skills(m.ListSkillsRequest(skill_channel="ENTERPRISE")).body.to_map()["TotalCount"] == 0
    denied(lambda: c.get_oss_sts_token(m.GetOssStsTokenRequest(file_type="SKILL")), "ecd:GetOssStsToken",
           account=acct)

    ram.DetachPolicyFromUser(PolicyType="System", PolicyName="AliyunECDReadOnlyAccess", UserName=user.name)
    denied(lambda: describe(user.api.ecd), "ecd:DescribeDesktops", account=acct)
    expect_error(lambda: ram.DetachPolicyFromUser(PolicyType="System", PolicyName="AliyunECDReadOnlyAccess",
                                                  UserName=user.name), "EntityNotExist.User.Policy", 404)


@pytest.mark.parametrize("full,read_only", [("AliyunECDFullAccess", "AliyunECDReadOnlyAccess"),
                                            ("AdministratorAccess", "AliyunECDReadOnlyAccess"),
                                            ("AliyunECDFullAccess", "ReadOnlyAccess")])
def test_read_only_policies_do_not_take_away_what_full_access_grants(ram, full, read_only):
    """Read-only does not grant GetOssStsToken; attached beside a full-access policy it does not deny it."""
    user = new_user(ram, full, read_only)
    token = ecd2021(ram.server, user.key).get_oss_sts_token(
        ecd2021_models().GetOssStsTokenRequest(file_type="SKILL")).body
    assert token.access_key_id.startswith("STS.") and token.security_token, token.to_map()


def test_read_only_access_does_not_grant_upload_credentials(ram):
    """GetOssStsToken is not a read: the account-wide ReadOnlyAccess reads ecd but gets no upload credential."""
    user = new_user(ram, "ReadOnlyAccess")
    c, m = ecd2021(ram.server, user.key), ecd2021_models()
    assert c.list_skills(m.ListSkillsRequest(skill_channel="ENTERPRISE")).body.to_map()["TotalCount"] == 0
    denied(lambda: c.get_oss_sts_token(m.GetOssStsTokenRequest(file_type="SKILL")), "ecd:GetOssStsToken",
           account=ram.account_id, display=user.name)


def _raised(fn):
    try:
        fn()
    except Exception as exc:
        return exc
    return None


def test_a_policy_on_one_desktop_arn_allows_that_desktop_only(ram):
    id1, id2 = ram.api.create(image=IMG_UBUNTU, name="scoped", amount=2)
    policy = custom_policy(ram, doc(allow(["ecd:StartDesktops", "ecd:StopDesktops"], f"acs:ecd:*:*:desktop/{id1}"),
                                    allow("ecd:Describe*")))
    user = new_user(ram, custom=(policy,))
    user.api.stop([id1])
    assert ram.api.status(id1) == "Stopped"
    user.api.start([id1])
    assert ram.api.status(id1) == "Running"

    denied(lambda: user.api.stop([id1, id2]), "ecd:StopDesktops", account=ram.account_id, names=id2)
    assert (ram.api.status(id1), ram.api.status(id2)) == ("Running", "Running"), "a denied batch changes nothing"
    denied(lambda: user.api.stop([id2]), "ecd:StopDesktops", account=ram.account_id, names=id2)
    denied(lambda: user.api.reboot([id1]), "ecd:RebootDesktops", account=ram.account_id)
    assert ram.api.status(id2) == "Running"


def test_an_explicit_deny_beats_an_allow_and_root_decodes_it(ram):
    desktop = ram.api.create(image=IMG_UBUNTU, name="deny")[0]
    everything = custom_policy(ram, doc(allow("ecd:*")))
    no_stop = custom_policy(ram, doc(deny("ecd:StopDesktops")))
    user = new_user(ram, custom=(everything, no_stop))
    describe(user.api.ecd)
    detail = denied(lambda: user.api.stop([desktop]), "ecd:StopDesktops", account=ram.account_id,
                    kind="ExplicitDeny", display=user.name)
    assert ram.api.status(desktop) == "Running"
    assert detail["PolicyName"] == no_stop, "the denying policy, named for the caller to report"

    decoded = ram.DecodeDiagnosticMessage(EncodedDiagnosticMessage=detail["EncodedDiagnosticMessage"])
    msg = decoded["DecodedDiagnosticMessage"]
    assert msg["AuthAction"] == "ecd:StopDesktops" and msg["ExplicitDeny"] is True, msg
    assert desktop in (msg.get("AuthResource") or ""), msg
    denying = [p for p in msg["MatchedPolicies"] if p.get("Effect") == "Deny"]
    assert [(p["PolicyIdentifier"], p["PolicyType"], p["AttachedEntityType"]) for p in denying] == [
        (no_stop, "Custom", "User")], msg
    assert msg["AuthPrincipal"]["AuthPrincipalDisplayName"] == user.name, msg

    # an implicit deny decodes as one; the user itself may not decode (ram: permissions needed)
    plain = new_user(ram)
    implicit = denied(lambda: describe(plain.api.ecd), "ecd:DescribeDesktops", account=ram.account_id)
    assert "PolicyName" not in implicit, "no policy refused an implicit deny"
    msg = ram.DecodeDiagnosticMessage(EncodedDiagnosticMessage=implicit["EncodedDiagnosticMessage"])[
        "DecodedDiagnosticMessage"]
    assert msg["AuthAction"] == "ecd:DescribeDesktops" and msg["ExplicitDeny"] is False, msg
    denied(lambda: user.ram.DecodeDiagnosticMessage(EncodedDiagnosticMessage=detail["EncodedDiagnosticMessage"]),
           "ram:DecodeDiagnosticMessage", account=ram.account_id)
    exc = expect_error(lambda: ram.DecodeDiagnosticMessage(EncodedDiagnosticMessage="garbage"),
                       getattr(_raised(lambda: ram.DecodeDiagnosticMessage(EncodedDiagnosticMessage="garbage")),
                               "code", None), 400)
    assert exc.code.startswith("InvalidParameter"), exc
    # another account's root cannot decode this account's message
    other = tenant_ram(ram.server)
    exc = _raised(lambda: other.DecodeDiagnosticMessage(EncodedDiagnosticMessage=detail["EncodedDiagnosticMessage"]))
    assert exc is not None and exc.code.startswith("InvalidParameter") and exc.status_code == 400, exc


def test_action_wildcards_match_case_insensitively(ram):
    ram.api.create(image=IMG_UBUNTU, name="wild")
    user = new_user(ram, custom=(custom_policy(ram, doc(allow(["ECD:describe*"]))),))
    describe(user.api.ecd)
    assert user.api.regions()
    assert user.api.office_sites_page()["RequestId"]
    denied(lambda: user.api.create(image=IMG_UBUNTU), "ecd:CreateDesktops", account=ram.account_id)
    # a wildcard in the middle, and an exact action in another case
    other = new_user(ram, custom=(custom_policy(ram, doc(allow(["ecd:*Regions", "ecd:describedesktops"]))),))
    assert other.api.regions()
    describe(other.api.ecd)
    denied(lambda: other.api.office_sites_page(), "ecd:DescribeOfficeSites", account=ram.account_id)


def test_each_product_needs_its_own_service_permissions(ram):
    from alibabacloud_appstream_center20210901 import models as a
    from alibabacloud_resourcemanager20200331 import models as r
    from alibabacloud_wss20211221 import models as w
    from alibabacloud_wss20211221.client import Client as Wss

    user = new_user(ram, "AliyunECDFullAccess")
    acct = ram.account_id
    assert user.api.create(image=IMG_UBUNTU, name="full")
    wss = Wss(_config(ram.server, user.key, False))
    templates = lambda: user.api.appstream.list_model_provider_templates(  # noqa: E731
        a.ListModelProviderTemplatesRequest(agent_provider="OpenClaw", biz_type=1)).body.to_map()
    runtimes = lambda: user.api.runtimes_page(agent_provider="OpenClaw")  # noqa: E731
    runs = lambda: wss.describe_run_id_deductions(w.DescribeRunIdDeductionsRequest()).body.to_map()  # noqa: E731
    groups = lambda: user.api.rm.list_resource_groups(r.ListResourceGroupsRequest()).body.to_map()  # noqa: E731

    denied(templates, "appstreaming:ListModelProviderTemplates", account=acct)
    denied(runtimes, "appstreaming:ListDesktopAgentRuntime", account=acct)
    denied(runs, "wss:DescribeRunIdDeductions", account=acct)
    denied(groups, "resourcemanager:ListResourceGroups", account=acct)

    for p in ("AliyunAppStreamingReadOnlyAccess", "AliyunWSSReadOnlyAccess", "AliyunResourceManagerReadOnlyAccess"):
        ram.AttachPolicyToUser(PolicyType="System", PolicyName=p, UserName=user.name)
    assert templates()["RequestId"] and runtimes()["RequestId"] and runs()["RequestId"] and groups()["RequestId"]
    denied(lambda: user.api.create_group(), "resourcemanager:CreateResourceGroup", account=acct)
    denied(lambda: wss.set_agent_credit_quota(w.SetAgentCreditQuotaRequest(
        agent_ids=["ecd-nosuch"], agent_type="OPEN_CLAW", credit_quota=5)), "wss:SetAgentCreditQuota", account=acct)


def test_ram_actions_need_ram_permissions(ram):
    user = new_user(ram, "AliyunECDFullAccess")
    acct = ram.account_id
    denied(lambda: user.ram.CreateUser(UserName=uname()), "ram:CreateUser", account=acct)
    denied(lambda: user.ram.ListUsers(), "ram:ListUsers", account=acct)

    ram.AttachPolicyToUser(PolicyType="System", PolicyName="AliyunRAMReadOnlyAccess", UserName=user.name)
    assert [u["UserName"] for u in user.ram.ListUsers()["Users"]["User"]] == [user.name]
    assert user.ram.GetUser(UserName=user.name)["User"]["UserName"] == user.name
    assert "AliyunRAMReadOnlyAccess" in [p["PolicyName"] for p in
                                         user.ram.ListPoliciesForUser(UserName=user.name)["Policies"]["Policy"]]
    denied(lambda: user.ram.CreateUser(UserName=uname()), "ram:CreateUser", account=acct)
    # no way up: a read-only user cannot grant itself more
    denied(lambda: user.ram.AttachPolicyToUser(PolicyType="System", PolicyName="AdministratorAccess",
                                               UserName=user.name), "ram:AttachPolicyToUser", account=acct)
    denied(lambda: user.ram.CreateAccessKey(UserName=user.name), "ram:CreateAccessKey", account=acct)
    assert [u["UserName"] for u in ram.ListUsers()["Users"]["User"]] == [user.name]

    ram.AttachPolicyToUser(PolicyType="System", PolicyName="AliyunRAMFullAccess", UserName=user.name)
    made = uname("made-by-user")
    user.ram.CreateUser(UserName=made)
    assert ram.GetUser(UserName=made)["User"]["UserName"] == made


def test_administrator_access_and_read_only_access(ram):
    from alibabacloud_wss20211221 import models as w
    from alibabacloud_wss20211221.client import Client as Wss

    admin = new_user(ram, "AdministratorAccess")
    desktop = admin.api.create(image=IMG_UBUNTU, name="by-admin")[0]
    admin.ram.CreateUser(UserName=uname("by-admin"))
    reader = new_user(ram, "ReadOnlyAccess")
    assert [d["DesktopId"] for d in describe(reader.api.ecd)["Desktops"]] == [desktop]
    assert len(reader.ram.ListUsers()["Users"]["User"]) == 3
    Wss(_config(ram.server, reader.key, False)).describe_run_id_deductions(w.DescribeRunIdDeductionsRequest())
    denied(lambda: reader.api.stop([desktop]), "ecd:StopDesktops", account=ram.account_id)
    denied(lambda: reader.ram.CreateUser(UserName=uname()), "ram:CreateUser", account=ram.account_id)


def test_resource_arns_carry_region_and_account(ram, server):
    """A call naming no resource is checked against acs:ecd:<RegionId>:<account>:*; a desktop ARN
    pattern does not cover it."""
    desktop = ram.api.create(image=IMG_UBUNTU, name="arn")[0]
    acct = ram.account_id
    hangzhou = new_user(ram, custom=(custom_policy(ram, doc(allow("ecd:DescribeDesktops", f"acs:ecd:{REGION}:{acct}:*"))),))
    assert [d["DesktopId"] for d in describe(hangzhou.api.ecd)["Desktops"]] == [desktop]
    denied(lambda: hangzhou.api.ecd.describe_desktops(ecd_req("DescribeDesktops", region_id="cn-shanghai")),
           "ecd:DescribeDesktops", account=acct, names="cn-shanghai")

    elsewhere = tenant_ram(server).account_id
    foreign = new_user(ram, custom=(custom_policy(ram, doc(allow("ecd:DescribeDesktops", f"acs:ecd:*:{elsewhere}:*"))),))
    denied(lambda: describe(foreign.api.ecd), "ecd:DescribeDesktops", account=acct)

    desktops_only = new_user(ram, custom=(custom_policy(ram, doc(allow(["ecd:DescribeDesktops", "ecd:StopDesktops"],
                                                                       "acs:ecd:*:*:desktop/*"))),))
    denied(lambda: describe(desktops_only.api.ecd), "ecd:DescribeDesktops", account=acct)
    desktops_only.api.stop([desktop])
    assert ram.api.status(desktop) == "Stopped"


def test_ram_resources_are_user_policy_and_role_arns(ram):
    acct = ram.account_id
    alice, bob = uname("alice"), uname("bob")
    ram.CreateUser(UserName=alice)
    ram.CreateUser(UserName=bob)
    only_alice = custom_policy(ram, doc(allow(["ram:GetUser", "ram:UpdateUser"], f"acs:ram::{acct}:user/{alice}")))
    user = new_user(ram, custom=(only_alice,))
    assert user.ram.GetUser(UserName=alice)["User"]["UserName"] == alice
    denied(lambda: user.ram.GetUser(UserName=bob), "ram:GetUser", account=acct, names=f"user/{bob}")
    user.ram.UpdateUser(UserName=alice, NewDisplayName="Alice")
    assert ram.GetUser(UserName=alice)["User"]["DisplayName"] == "Alice"

    role_a, role_b = new_role_named(ram), new_role_named(ram)
    one_role = custom_policy(ram, doc(allow("ram:GetRole", f"acs:ram::{acct}:role/{role_a}")))
    ram.AttachPolicyToUser(PolicyType="Custom", PolicyName=one_role, UserName=user.name)
    assert user.ram.GetRole(RoleName=role_a)["Role"]["RoleName"] == role_a
    denied(lambda: user.ram.GetRole(RoleName=role_b), "ram:GetRole", account=acct)
    policy_reader = custom_policy(ram, doc(allow("ram:GetPolicy", f"acs:ram::{acct}:policy/{one_role}")))
    ram.AttachPolicyToUser(PolicyType="Custom", PolicyName=policy_reader, UserName=user.name)
    assert user.ram.GetPolicy(PolicyName=one_role, PolicyType="Custom")["Policy"]["PolicyName"] == one_role
    denied(lambda: user.ram.GetPolicy(PolicyName=only_alice, PolicyType="Custom"), "ram:GetPolicy", account=acct)


def new_role_named(ram) -> str:
    name = uname("role")
    ram.CreateRole(RoleName=name, AssumeRolePolicyDocument=trust(ram.account_id))
    return name


def test_a_renamed_user_keeps_its_keys_and_policies(ram):
    user = new_user(ram, "AliyunECDReadOnlyAccess")
    renamed = uname("renamed")
    ram.UpdateUser(UserName=user.name, NewUserName=renamed)
    describe(user.api.ecd)
    assert [k["AccessKeyId"] for k in ram.ListAccessKeys(UserName=renamed)["AccessKeys"]["AccessKey"]] == [user.key[0]]
    assert [p["PolicyName"] for p in ram.ListPoliciesForUser(UserName=renamed)["Policies"]["Policy"]] == [
        "AliyunECDReadOnlyAccess"]
    denied(lambda: user.api.stop(["ecd-whatever"]), "ecd:StopDesktops", account=ram.account_id, display=renamed)


def test_a_user_disabling_its_own_key_is_refused_at_once(ram):
    user = new_user(ram, "AliyunRAMFullAccess", "AliyunECDReadOnlyAccess")
    second = user.ram.CreateAccessKey()["AccessKey"]
    assert sorted(k["AccessKeyId"] for k in ram.ListAccessKeys(UserName=user.name)["AccessKeys"]["AccessKey"]) == \
        sorted([user.key[0], second["AccessKeyId"]]), "a RAM user's key actions without UserName are its own"
    user.ram.UpdateAccessKey(UserAccessKeyId=user.key[0], Status="Inactive")
    expect_error(lambda: describe(user.api.ecd), "InvalidAccessKeyId.Inactive")
    other = ecd_client(ram.server, (second["AccessKeyId"], second["AccessKeySecret"]))
    describe(other)
    Ram(ram.server, (second["AccessKeyId"], second["AccessKeySecret"])).DeleteAccessKey(UserAccessKeyId=user.key[0])
    expect_error(lambda: describe(user.api.ecd), "InvalidAccessKeyId.NotFound", 404)
    assert [k["AccessKeyId"] for k in ram.ListAccessKeys(UserName=user.name)["AccessKeys"]["AccessKey"]] == [
        second["AccessKeyId"]]


def test_root_keys_can_be_disabled_but_never_denied(ram):
    extra = ram.CreateAccessKey()["AccessKey"]
    key = (extra["AccessKeyId"], extra["AccessKeySecret"])
    describe(ecd_client(ram.server, key))
    ram.UpdateAccessKey(UserAccessKeyId=key[0], Status="Inactive")
    expect_error(lambda: describe(ecd_client(ram.server, key)), "InvalidAccessKeyId.Inactive")
    ram.UpdateAccessKey(UserAccessKeyId=key[0], Status="Active")
    Ram(ram.server, key).AttachPolicyToUser(PolicyType="System", PolicyName="AdministratorAccess",
                                            UserName=new_user(ram).name)
    ram.DeleteAccessKey(UserAccessKeyId=key[0])


def test_a_tenant_that_disabled_its_root_key_gets_a_new_one_from_the_operator(server):
    """A root that disables its only key is locked out, as in the cloud; `amc admin tenant
    root-key` gives it a new one (the disabled one makes room) and says so in the audit trail."""
    ram = tenant_ram(server)
    only = ram.ListAccessKeys()["AccessKeys"]["AccessKey"]
    assert len(only) == 1
    ram.UpdateAccessKey(UserAccessKeyId=only[0]["AccessKeyId"], Status="Inactive")
    expect_error(lambda: ram.ListUsers(), "InvalidAccessKeyId.Inactive")

    out = server.admin("tenant", "root-key", "--tenant", ram.account_id, *server.store_args())
    assert out.returncode == 0, out.stderr
    fresh = json.loads(out.stdout)
    assert fresh["AccountId"] == ram.account_id and fresh["AccessKeyId"] != only[0]["AccessKeyId"]
    restored = Ram(server, (fresh["AccessKeyId"], fresh["AccessKeySecret"]), account_id=ram.account_id)
    keys = restored.ListAccessKeys()["AccessKeys"]["AccessKey"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(fresh["AccessKeyId"], "Active")], keys
    rows = [r for r in audit(server, "--action", "CreateRootAccessKey") if r["TenantId"] == ram.account_id]
    assert [r["Resources"] for r in rows] == [[fresh["AccessKeyId"]]], rows
    assert fresh["AccessKeySecret"] not in json.dumps(rows)

    # two active root keys: the operator must not silently add a third
    restored.CreateAccessKey()
    again = server.admin("tenant", "root-key", "--tenant", ram.account_id, *server.store_args())
    assert again.returncode != 0 and "two active root keys" in again.stderr, again.stderr
    nobody = server.admin("tenant", "root-key", "--tenant", "1000000000000000", *server.store_args())
    assert nobody.returncode != 0 and "no tenant" in nobody.stderr, nobody.stderr


# --------------------------------------------------------------------------------------------------
# policies and versions


def test_a_new_default_version_changes_what_the_user_may_do_on_the_next_call(ram):
    policy = custom_policy(ram, doc(allow("ecd:DescribeDesktops")))
    user = new_user(ram, custom=(policy,))
    describe(user.api.ecd)
    denied(lambda: user.api.regions(), "ecd:DescribeRegions", account=ram.account_id)

    v2_doc = doc(allow("ecd:DescribeRegions"))
    v2 = ram.CreatePolicyVersion(PolicyName=policy, PolicyDocument=v2_doc, SetAsDefault=True)["PolicyVersion"]
    assert v2["VersionId"] == "v2" and v2["IsDefaultVersion"] is True, v2
    assert user.api.regions()
    denied(lambda: describe(user.api.ecd), "ecd:DescribeDesktops", account=ram.account_id)
    got = ram.GetPolicy(PolicyName=policy, PolicyType="Custom")
    assert got["Policy"]["DefaultVersion"] == "v2" and got["DefaultPolicyVersion"]["VersionId"] == "v2", got
    assert json.loads(got["DefaultPolicyVersion"]["PolicyDocument"]) == json.loads(v2_doc)

    ram.SetDefaultPolicyVersion(PolicyName=policy, VersionId="v1")
    describe(user.api.ecd)
    denied(lambda: user.api.regions(), "ecd:DescribeRegions", account=ram.account_id)
    versions = ram.ListPolicyVersions(PolicyName=policy, PolicyType="Custom")["PolicyVersions"]["PolicyVersion"]
    assert sorted((v["VersionId"], v["IsDefaultVersion"]) for v in versions) == [("v1", True), ("v2", False)]
    v = ram.GetPolicyVersion(PolicyName=policy, PolicyType="Custom", VersionId="v2")["PolicyVersion"]
    assert json.loads(v["PolicyDocument"]) == json.loads(v2_doc) and v["IsDefaultVersion"] is False, v
    # a version that is not the default does nothing
    ram.CreatePolicyVersion(PolicyName=policy, PolicyDocument=doc(allow("ecd:*")))
    denied(lambda: user.api.create(image=IMG_UBUNTU), "ecd:CreateDesktops", account=ram.account_id)
    expect_error(lambda: ram.SetDefaultPolicyVersion(PolicyName=policy, VersionId="v9"),
                 "EntityNotExist.Policy.Version", 404)


def test_five_versions_at_most_unless_the_oldest_is_rotated_out(ram):
    policy = custom_policy(ram, doc(allow("ecd:DescribeDesktops")))
    for i in range(2, 6):
        version = doc(allow("ecd:DescribeDesktops", f"acs:ecd:*:*:desktop/ecd-v{i}"))
        assert ram.CreatePolicyVersion(PolicyName=policy, PolicyDocument=version)[
            "PolicyVersion"]["VersionId"] == f"v{i}"
    expect_error(lambda: ram.CreatePolicyVersion(PolicyName=policy, PolicyDocument=doc(allow("ecd:DescribeRegions"))),
                 "LimitExceeded.Policy.Version", 409)
    expect_error(lambda: ram.CreatePolicyVersion(PolicyName=policy, PolicyDocument=doc(allow("ecd:DescribeRegions")),
                                                 RotateStrategy="None"), "LimitExceeded.Policy.Version", 409)
    rotated = ram.CreatePolicyVersion(PolicyName=policy, PolicyDocument=doc(allow("ecd:DescribeRegions")),
                                      RotateStrategy="DeleteOldestNonDefaultVersionWhenLimitExceeded")
    assert rotated["PolicyVersion"]["VersionId"] == "v6", rotated

    def ids():
        return sorted(v["VersionId"] for v in ram.ListPolicyVersions(PolicyName=policy, PolicyType="Custom")[
            "PolicyVersions"]["PolicyVersion"])

    assert ids() == ["v1", "v3", "v4", "v5", "v6"], "v1 is the default: v2 was the oldest non-default"
    expect_error(lambda: ram.GetPolicyVersion(PolicyName=policy, PolicyType="Custom", VersionId="v2"),
                 "EntityNotExist.Policy.Version", 404)
    expect_error(lambda: ram.DeletePolicyVersion(PolicyName=policy, VersionId="v1"),
                 "DeleteConflict.PolicyVersion.Default", 409)
    ram.DeletePolicyVersion(PolicyName=policy, VersionId="v3")
    assert ids() == ["v1", "v4", "v5", "v6"]
    expect_error(lambda: ram.DeletePolicyVersion(PolicyName=policy, VersionId="v3"),
                 "EntityNotExist.Policy.Version", 404)
    assert ram.CreatePolicyVersion(PolicyName=policy, PolicyDocument=doc(allow("ecd:DescribeImages")))[
        "PolicyVersion"]["VersionId"] == "v7", "version ids are not reused"


def test_delete_policy_is_refused_while_attached_unless_cascading(ram):
    policy = custom_policy(ram, doc(allow("ecd:DescribeDesktops")))
    user = new_user(ram, custom=(policy,))
    role = uname("role")
    ram.CreateRole(RoleName=role, AssumeRolePolicyDocument=trust(ram.account_id))
    ram.AttachPolicyToRole(PolicyType="Custom", PolicyName=policy, RoleName=role)
    entities = ram.ListEntitiesForPolicy(PolicyType="Custom", PolicyName=policy)
    assert [u["UserName"] for u in entities["Users"]["User"]] == [user.name], entities
    assert [r["RoleName"] for r in entities["Roles"]["Role"]] == [role], entities
    assert ram.GetPolicy(PolicyName=policy, PolicyType="Custom")["Policy"]["AttachmentCount"] == 2

    expect_error(lambda: ram.DeletePolicy(PolicyName=policy), "DeleteConflict.Policy.User", 409)
    expect_error(lambda: ram.DeletePolicy(PolicyName=policy, CascadingDelete=False), "DeleteConflict.Policy.User", 409)
    describe(user.api.ecd)
    ram.DeletePolicy(PolicyName=policy, CascadingDelete=True)
    expect_error(lambda: ram.GetPolicy(PolicyName=policy, PolicyType="Custom"), "EntityNotExist.Policy", 404)
    assert (ram.ListPoliciesForUser(UserName=user.name).get("Policies") or {}).get("Policy") in (None, [])
    assert (ram.ListPoliciesForRole(RoleName=role).get("Policies") or {}).get("Policy") in (None, [])
    denied(lambda: describe(user.api.ecd), "ecd:DescribeDesktops", account=ram.account_id)
    # deleted with its versions; the name is free again
    custom_policy(ram, doc(allow("ecd:DescribeRegions")), name=policy)


def test_delete_policy_with_non_default_versions_is_refused(ram):
    policy = custom_policy(ram, doc(allow("ecd:DescribeDesktops")))
    ram.CreatePolicyVersion(PolicyName=policy, PolicyDocument=doc(allow("ecd:DescribeRegions")))
    expect_error(lambda: ram.DeletePolicy(PolicyName=policy), "DeleteConflict.Policy.Version", 409)
    ram.DeletePolicyVersion(PolicyName=policy, VersionId="v2")
    ram.DeletePolicy(PolicyName=policy)
    expect_error(lambda: ram.GetPolicy(PolicyName=policy, PolicyType="Custom"), "EntityNotExist.Policy", 404)


MALFORMED = {
    "not json": "{not json",
    "version 2": json.dumps({"Version": "2", "Statement": [allow("ecd:DescribeDesktops")]}),
    "bad effect": json.dumps({"Version": "1", "Statement": [{"Effect": "Maybe", "Action": "ecd:*", "Resource": "*"}]}),
    "principal": json.dumps({"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "ecd:*", "Resource": "*", "Principal": {"RAM": ["acs:ram::1:root"]}}]}),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_policy_documents_are_refused(ram, case):
    name = uname("p")
    expect_error(lambda: ram.CreatePolicy(PolicyName=name, PolicyDocument=MALFORMED[case]),
                 "MalformedPolicyDocument", 400)
    expect_error(lambda: ram.GetPolicy(PolicyName=name, PolicyType="Custom"), "EntityNotExist.Policy", 404)
    custom_policy(ram, doc(allow("ecd:DescribeDesktops")), name=name)
    expect_error(lambda: ram.CreatePolicyVersion(PolicyName=name, PolicyDocument=MALFORMED[case]),
                 "MalformedPolicyDocument", 400)
    versions = ram.ListPolicyVersions(PolicyName=name, PolicyType="Custom")["PolicyVersions"]["PolicyVersion"]
    assert [v["VersionId"] for v in versions] == ["v1"]


def test_policy_errors(ram):
    name = custom_policy(ram, doc(allow("ecd:DescribeDesktops")), description="d")
    created = ram.GetPolicy(PolicyName=name, PolicyType="Custom")
    assert created["Policy"]["DefaultVersion"] == "v1" and created["Policy"]["Description"] == "d", created
    assert DATE.match(created["Policy"]["CreateDate"]), created
    expect_error(lambda: ram.CreatePolicy(PolicyName=name, PolicyDocument=doc(allow("ecd:*"))),
                 "EntityAlreadyExists.Policy", 409)
    user = new_user(ram, custom=(name,))
    expect_error(lambda: ram.AttachPolicyToUser(PolicyType="Custom", PolicyName=name, UserName=user.name),
                 "EntityAlreadyExists.User.Policy", 409)
    expect_error(lambda: ram.AttachPolicyToUser(PolicyType="System", PolicyName="AliyunNoSuchAccess",
                                                UserName=user.name), "EntityNotExist.Policy", 404)
    expect_error(lambda: ram.AttachPolicyToUser(PolicyType="Custom", PolicyName=uname("nosuch"),
                                                UserName=user.name), "EntityNotExist.Policy", 404)
    expect_error(lambda: ram.DetachPolicyFromUser(PolicyType="System", PolicyName="AliyunECDFullAccess",
                                                  UserName=user.name), "EntityNotExist.User.Policy", 404)
    expect_error(lambda: ram.GetPolicy(PolicyName="AliyunNoSuchAccess", PolicyType="System"),
                 "EntityNotExist.Policy", 404)
    expect_error(lambda: ram.CreatePolicy(PolicyName="bad name!", PolicyDocument=doc(allow("ecd:*"))),
                 "InvalidParameter", 400)


def test_system_policies_are_listed_and_readable(ram):
    def every(**kw) -> list[dict]:
        out, marker = [], None
        for _ in range(50):
            page = ram.ListPolicies(MaxItems=4, Marker=marker, **kw)
            out += (page.get("Policies") or {}).get("Policy") or []
            if not page.get("IsTruncated"):
                return out
            marker = page["Marker"]
        pytest.fail("ListPolicies paging did not end")

    mine = custom_policy(ram, doc(allow("ecd:DescribeDesktops")))
    system = every(PolicyType="System")
    assert sorted(p["PolicyName"] for p in system) == sorted(SYSTEM_POLICIES), system
    assert {p["PolicyType"] for p in system} == {"System"}
    assert [p["PolicyName"] for p in every(PolicyType="Custom")] == [mine]
    assert sorted(p["PolicyName"] for p in every()) == sorted(SYSTEM_POLICIES + [mine])

    got = ram.GetPolicy(PolicyName="AliyunECDReadOnlyAccess", PolicyType="System")
    assert got["Policy"]["PolicyType"] == "System" and got["Policy"]["PolicyName"] == "AliyunECDReadOnlyAccess"
    document = json.loads(got["DefaultPolicyVersion"]["PolicyDocument"])
    assert document["Version"] == "1" and document["Statement"], document
    actions = json.dumps(document["Statement"])
    assert "ecd:Describe" in actions and "ecd:*" not in actions, document
    assert got["DefaultPolicyVersion"]["IsDefaultVersion"] is True
    # who holds them, counted per tenant
    new_user(ram, "AliyunECDReadOnlyAccess")
    new_user(ram, "AliyunECDReadOnlyAccess", "ReadOnlyAccess")
    counts = {p["PolicyName"]: p["AttachmentCount"] for p in every(PolicyType="System")}
    assert (counts["AliyunECDReadOnlyAccess"], counts["ReadOnlyAccess"], counts["AdministratorAccess"]) == (2, 1, 0)
    held = ram.GetPolicy(PolicyName="AliyunECDReadOnlyAccess", PolicyType="System")["Policy"]["AttachmentCount"]
    assert held == 2
    admin = json.loads(ram.GetPolicy(PolicyName="AdministratorAccess", PolicyType="System")[
        "DefaultPolicyVersion"]["PolicyDocument"])
    assert admin["Statement"][0]["Effect"] == "Allow" and admin["Statement"][0]["Action"] in ("*", ["*"]), admin


# --------------------------------------------------------------------------------------------------
# conditions


def test_source_ip_condition(ram):
    loopback = new_user(ram, custom=(custom_policy(ram, doc(allow(
        "ecd:DescribeDesktops", condition={"IpAddress": {"acs:SourceIp": "127.0.0.0/8"}}))),))
    describe(loopback.api.ecd)
    private = new_user(ram, custom=(custom_policy(ram, doc(allow(
        "ecd:DescribeDesktops", condition={"IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}))),))
    denied(lambda: describe(private.api.ecd), "ecd:DescribeDesktops", account=ram.account_id)
    # NotIpAddress and a deny on the loopback
    fenced = new_user(ram, custom=(custom_policy(ram, doc(
        allow("ecd:DescribeDesktops"),
        deny("ecd:DescribeDesktops", condition={"IpAddress": {"acs:SourceIp": "127.0.0.1"}}))),))
    denied(lambda: describe(fenced.api.ecd), "ecd:DescribeDesktops", account=ram.account_id, kind="ExplicitDeny")


def test_source_ip_behind_a_trusted_proxy(server_factory):
    """Behind a load balancer (`--trusted-proxy`), `acs:SourceIp` and the audit trail see the
    client that the proxy names in `X-Forwarded-For`; a client's own header is ignored."""
    behind = server_factory(args=("--trusted-proxy", "127.0.0.0/8"))
    direct = server_factory()
    for srv, trusts in [(behind, True), (direct, False)]:
        ram = tenant_ram(srv)
        office = new_user(ram, custom=(custom_policy(ram, doc(allow(
            "ecd:DescribeDesktops", condition={"IpAddress": {"acs:SourceIp": "203.0.113.0/24"}}))),))
        call = lambda forwarded: raw_v3(srv, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=office.key,
                                        headers={"X-Forwarded-For": forwarded} if forwarded else None)
        assert json_body(call(None))["Code"] == "Forbidden.RAM"
        from_office = call("203.0.113.9")
        assert (from_office.status_code == 200) == trusts, json_body(from_office)
        # a client forging its first hop is still the address the proxy saw (here, the last hop)
        assert json_body(call("203.0.113.9, 198.51.100.4"))["Code"] == "Forbidden.RAM"
        rows = audit(srv, "--principal", office.key[0])
        assert {r["SourceIp"] for r in rows} == ({"127.0.0.1", "198.51.100.4"} if trusts else {"127.0.0.1"}), rows


def test_current_time_condition(ram):
    past = new_user(ram, custom=(custom_policy(ram, doc(allow(
        "ecd:DescribeDesktops", condition={"DateLessThan": {"acs:CurrentTime": "2020-01-01T00:00:00Z"}}))),))
    denied(lambda: describe(past.api.ecd), "ecd:DescribeDesktops", account=ram.account_id)
    future = new_user(ram, custom=(custom_policy(ram, doc(allow(
        "ecd:DescribeDesktops", condition={"DateLessThan": {"acs:CurrentTime": "2999-01-01T00:00:00Z"}}))),))
    describe(future.api.ecd)


def test_mfa_present_is_false_for_key_calls(ram):
    mfa = new_user(ram, custom=(custom_policy(ram, doc(allow(
        "ecd:DescribeDesktops", condition={"Bool": {"acs:MFAPresent": "true"}}))),))
    denied(lambda: describe(mfa.api.ecd), "ecd:DescribeDesktops", account=ram.account_id)
    no_mfa = new_user(ram, custom=(custom_policy(ram, doc(allow(
        "ecd:DescribeDesktops", condition={"Bool": {"acs:MFAPresent": "false"}}))),))
    describe(no_mfa.api.ecd)


SECURE = doc(allow("ecd:DescribeDesktops", condition={"Bool": {"acs:SecureTransport": "true"}}))


def test_secure_transport_is_false_over_plain_http(ram):
    user = new_user(ram, custom=(custom_policy(ram, SECURE),))
    denied(lambda: describe(user.api.ecd), "ecd:DescribeDesktops", account=ram.account_id)


def test_secure_transport_is_true_on_a_tls_server(server_factory, certificate):
    from alibabacloud_ecd20200930.client import Client as Ecd
    from alibabacloud_ram20150501.client import Client as RamClient
    from darabonba.runtime import RuntimeOptions

    chain, key, ca = certificate
    srv = server_factory(args=("--tls-cert", str(chain), "--tls-key", str(key)))
    info = srv.create_tenant()
    root_key = (info["AccessKeyId"], info["AccessKeySecret"])
    runtime = RuntimeOptions(ca=str(ca))  # the SDK verifies the server against the test's CA

    def config(k):
        cfg = _config(srv, k, False)
        cfg.protocol = "https"
        return cfg

    ram = Ram(srv, root_key, account_id=info["AccountId"], client=RamClient(config(root_key)), runtime=runtime)
    policy = custom_policy(ram, SECURE)
    name = uname()
    ram.CreateUser(UserName=name)
    ak = ram.CreateAccessKey(UserName=name)["AccessKey"]
    ram.AttachPolicyToUser(PolicyType="Custom", PolicyName=policy, UserName=name)
    ecd = Ecd(config((ak["AccessKeyId"], ak["AccessKeySecret"])))
    body = ecd.describe_desktops_with_options(ecd_req("DescribeDesktops"), runtime).body.to_map()
    assert body["RequestId"] and body.get("Desktops") in (None, []), body
    # the condition holds for that action only
    denied(lambda: ecd.describe_regions_with_options(ecd_req("DescribeRegions"), runtime), "ecd:DescribeRegions",
           account=info["AccountId"], display=name)


# --------------------------------------------------------------------------------------------------
# audit


def test_denials_and_ram_changes_are_audited(ram):
    started = int(time.time() * 1000)
    user = new_user(ram)
    resp = raw_v3(ram.server, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=user.key)
    refused = json_body(resp)
    assert refused["Code"] == "Forbidden.RAM", refused

    rows = audit(ram.server, "--principal", user.key[0], "--since", str(started))
    assert [(r["Action"], r["Code"], r["RequestId"]) for r in rows] == [
        ("DescribeDesktops", "Forbidden.RAM", refused["RequestId"])], rows
    assert rows[0]["Principal"] == user.key[0] and rows[0]["SourceIp"] == "127.0.0.1"

    changes = audit(ram.server, "--principal", ram.key[0], "--since", str(started))
    made = [(r["Action"], r["Code"]) for r in changes]
    assert ("CreateUser", "OK") in made and ("CreateAccessKey", "OK") in made, made
    assert all(r["Principal"] == ram.key[0] for r in changes)
    out = ram.server.admin("audit", "--principal", ram.key[0], *ram.server.store_args()).stdout
    assert user.key[1] not in out, "a new key's secret is never in the trail"

    # a RAM user's own RAM change is audited under its key
    admin = new_user(ram, "AliyunRAMFullAccess")
    admin.ram.CreateUser(UserName=uname("by-admin"))
    assert ("CreateUser", "OK") in [(r["Action"], r["Code"]) for r in audit(ram.server, "--principal", admin.key[0])]


# --------------------------------------------------------------------------------------------------
# tenants apart


def trust(*accounts: str) -> str:
    return json.dumps({"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"RAM": [f"acs:ram::{a}:root" for a in accounts]}}]})


def test_another_tenant_cannot_see_or_use_users_policies_or_roles(ram, server):
    policy = custom_policy(ram, doc(allow("ecd:*")))
    user = new_user(ram, custom=(policy,))
    role = uname("role")
    ram.CreateRole(RoleName=role, AssumeRolePolicyDocument=trust(ram.account_id))
    desktop = ram.api.create(image=IMG_UBUNTU, name="a")[0]

    b = tenant_ram(server)
    assert b.account_id != ram.account_id
    theirs = new_user(b)
    expect_error(lambda: b.GetUser(UserName=user.name), "EntityNotExist.User", 404)
    expect_error(lambda: b.DeleteUser(UserName=user.name), "EntityNotExist.User", 404)
    expect_error(lambda: b.CreateAccessKey(UserName=user.name), "EntityNotExist.User", 404)
    expect_error(lambda: b.ListAccessKeys(UserName=user.name), "EntityNotExist.User", 404)
    expect_error(lambda: b.UpdateAccessKey(UserName=theirs.name, UserAccessKeyId=user.key[0], Status="Inactive"),
                 "EntityNotExist.User.AccessKey", 404)
    expect_error(lambda: b.GetPolicy(PolicyName=policy, PolicyType="Custom"), "EntityNotExist.Policy", 404)
    expect_error(lambda: b.AttachPolicyToUser(PolicyType="Custom", PolicyName=policy, UserName=theirs.name),
                 "EntityNotExist.Policy", 404)
    expect_error(lambda: b.AttachPolicyToUser(PolicyType="System", PolicyName="AliyunECDFullAccess",
                                              UserName=user.name), "EntityNotExist.User", 404)
    expect_error(lambda: b.GetRole(RoleName=role), "EntityNotExist.Role", 404)
    expect_error(lambda: b.AttachPolicyToRole(PolicyType="System", PolicyName="AdministratorAccess", RoleName=role),
                 "EntityNotExist.Role", 404)
    assert [u["UserName"] for u in b.ListUsers()["Users"]["User"]] == [theirs.name]
    assert [p["PolicyName"] for p in (b.ListPolicies(PolicyType="Custom").get("Policies") or {}).get("Policy") or []] == []
    assert role not in [r["RoleName"] for r in (b.ListRoles().get("Roles") or {}).get("Role") or []]
    # the same names are free in another account
    b.CreateUser(UserName=user.name)
    custom_policy(b, doc(allow("ecd:DescribeRegions")), name=policy)
    # A's user, with every ecd permission, sees A's desktops only; A's key for B's user name is A's own user
    assert [d["DesktopId"] for d in describe(user.api.ecd)["Desktops"]] == [desktop]
    assert ram.GetUser(UserName=user.name)["User"]["UserName"] == user.name
    assert ram.ListPoliciesForUser(UserName=user.name)["Policies"]["Policy"][0]["PolicyName"] == policy


# --------------------------------------------------------------------------------------------------
# replicas (PostgreSQL)


def test_policy_changes_reach_another_replica_within_ten_seconds(server, replica):
    from amc_e2e import wait_until

    ram = tenant_ram(server)
    user = new_user(ram)
    on_replica = ecd_client(replica, user.key)
    denied(lambda: describe(on_replica), "ecd:DescribeDesktops", account=ram.account_id)
    ram.AttachPolicyToUser(PolicyType="System", PolicyName="AliyunECDReadOnlyAccess", UserName=user.name)

    def allowed():
        try:
            return describe(on_replica)["RequestId"]
        except Exception as exc:  # the replica has not seen the attachment yet
            assert getattr(exc, "code", None) == "Forbidden.RAM", exc
            return None

    wait_until(allowed, timeout=12, interval=0.5, what="the attachment on the other replica")
    ram.DetachPolicyFromUser(PolicyType="System", PolicyName="AliyunECDReadOnlyAccess", UserName=user.name)
    wait_until(lambda: not allowed(), timeout=12, interval=0.5, what="the detachment on the other replica")
    # a key disabled on one replica is refused by the other
    ram.UpdateAccessKey(UserName=user.name, UserAccessKeyId=user.key[0], Status="Inactive")
    wait_until(lambda: _code(lambda: describe(on_replica)) == "InvalidAccessKeyId.Inactive", timeout=12,
               interval=0.5, what="the disabled key on the other replica")


def _code(fn) -> str | None:
    try:
        fn()
    except Exception as exc:
        return getattr(exc, "code", None)
    return None


def test_concurrent_writers_keep_the_limits(server):
    """Many callers at once, as automation does: a user still ends with two keys at most, a
    policy with five versions at most and no version id twice, and every caller gets an answer
    of the cloud's (no 5xx)."""
    from concurrent.futures import ThreadPoolExecutor

    ram = tenant_ram(server)
    name = uname()
    ram.CreateUser(UserName=name)

    def attempt(fn):
        try:
            return ("ok", fn())
        except Exception as e:  # the SDK's error, with the cloud's code
            return (getattr(e, "code", None) or type(e).__name__, getattr(e, "status_code", None) or
                    getattr(getattr(e, "data", None) or {}, "get", lambda *_: None)("statusCode"))

    with ThreadPoolExecutor(8) as pool:
        clients = [Ram(server, ram.key) for _ in range(8)]
        keys = list(pool.map(lambda c: attempt(lambda: c.CreateAccessKey(UserName=name)), clients))
    outcomes = sorted(k[0] for k in keys)
    assert outcomes.count("ok") == 2, keys
    assert set(outcomes) == {"ok", "LimitExceeded.User.AccessKey"}, keys
    assert len(ram.ListAccessKeys(UserName=name)["AccessKeys"]["AccessKey"]) == 2

    policy = custom_policy(ram, doc(allow("ecd:Describe*")))
    with ThreadPoolExecutor(8) as pool:
        clients = [Ram(server, ram.key) for _ in range(8)]
        made = list(pool.map(lambda c: attempt(lambda: c.CreatePolicyVersion(
            PolicyName=policy, PolicyDocument=doc(allow("ecd:DescribeDesktops")), SetAsDefault=True)), clients))
    assert [m[0] for m in made].count("ok") == 4, made
    assert {m[0] for m in made} == {"ok", "LimitExceeded.Policy.Version"}, made
    versions = ram.ListPolicyVersions(PolicyName=policy, PolicyType="Custom")["PolicyVersions"]["PolicyVersion"]
    ids = [v["VersionId"] for v in versions]
    assert sorted(ids) == ["v1", "v2", "v3", "v4", "v5"], ids
    assert sum(v["IsDefaultVersion"] for v in versions) == 1, versions
