"""appstream-center 2021-09-01 IM channels (ConfigRuntimeChannel / GetRuntimeChannel /
RemoveRuntimeChannel) through the official SDK, and how ListDesktopAgentRuntime shows them."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from amc_e2e import BUNDLE_HERMES, IMG_UBUNTU, expect_error, wait_until

MASK = "******"


def a():
    from alibabacloud_appstream_center20210901 import models

    return models


def config(api, ids, code, cfg, mode=None, provider="OpenClaw", name=None, platform=None):
    text = cfg if isinstance(cfg, str) else json.dumps(cfg)
    body = api.appstream.config_runtime_channel(a().ConfigRuntimeChannelRequest(
        agent_provider=provider, agent_platform=platform, code=code, config=text, config_mode=mode, name=name,
        runtime_ids=list(ids), runtime_type="CloudDesktop")).body.to_map()
    assert body.get("RequestId"), body
    return body


def get(api, rid, provider="OpenClaw", risk=None):
    body = api.appstream.get_runtime_channel(a().GetRuntimeChannelRequest(
        agent_provider=provider, runtime_id=rid, runtime_type="CloudDesktop", include_risk_info=risk)).body.to_map()
    assert body.get("RequestId"), body
    assert body["TotalCount"] == len(body.get("Data") or []), body
    return {c["Code"]: c for c in body.get("Data") or []}


def remove(api, ids, code, provider="OpenClaw"):
    body = api.appstream.remove_runtime_channel(a().RemoveRuntimeChannelRequest(
        agent_provider=provider, code=code, runtime_ids=list(ids), runtime_type="CloudDesktop")).body.to_map()
    assert body.get("RequestId"), body
    return body


def rows(api, ids, provider="OpenClaw"):
    return {r["DesktopId"]: r for r in api.runtimes(desktop_ids=list(ids), agent_provider=provider)}


SIMPLE = {
    "dingtalk-connector": ({"appKey": "dingkey1"}, "appSecret"),
    "feishu": ({"appId": "cli_feishu1"}, "appSecret"),
    "qqbot": ({"appId": "10203"}, "clientSecret"),
    "wecom": ({"botId": "bot-7"}, "secret"),
}


def test_simple_channels_are_stored_masked_and_listed(tenant):
    ids = tenant.create(image=IMG_UBUNTU, amount=2, name="ch")
    other = tenant.create(image=IMG_UBUNTU, amount=1, name="ch-none")
    for code, (public, secret_field) in SIMPLE.items():
        config(tenant, ids, code, {**public, secret_field: f"s3cret-{code}"}, mode="Simple")
    for rid in ids:
        got = get(tenant, rid)
        assert sorted(got) == sorted(SIMPLE)
        for code, (public, secret_field) in SIMPLE.items():
            ch = got[code]
            assert ch["Status"] == "Configured" and ch["ConfigMode"] == "Simple", ch
            assert "QrCodeStatus" not in ch and "RiskType" not in ch, ch
            assert json.loads(ch["Config"]) == {**public, secret_field: MASK}, ch
    assert get(tenant, other[0]) == {}
    with_risk = get(tenant, ids[0], risk=True)
    assert all(c["RiskType"] == "Normal" for c in with_risk.values())

    listed = rows(tenant, ids + other)
    for rid in ids:
        r = listed[rid]
        assert r["ChannelConfigure"] is True and r["ChannelConfiguredList"] == sorted(SIMPLE), r
        assert r["QrCodeConfiguringList"] == [], r
        (inst,) = r["AgentInstanceInfoList"]
        assert inst["ChannelConfigure"] is True and inst["ChannelConfiguredList"] == sorted(SIMPLE), r
    r = listed[other[0]]
    assert r["ChannelConfigure"] is False and r["ChannelConfiguredList"] == [] and r["AgentInstanceInfoList"][0]["ChannelConfigure"] is False
    assert tenant.runtime_ids(desktop_ids=ids + other, channel_configure=True) == set(ids)
    assert tenant.runtime_ids(desktop_ids=ids + other, channel_configure=False) == set(other)
    page = tenant.runtimes_page(agent_provider="OpenClaw", channel_configure=True, desktop_ids=ids + other)
    assert page["TotalCount"] == 2


def test_default_mode_is_simple_and_reconfiguring_replaces(tenant):
    (rid,) = tenant.create(image=IMG_UBUNTU, amount=1, name="ch-re")
    config(tenant, [rid], "feishu", {"appId": "cli_1", "appSecret": "first"})
    config(tenant, [rid], "feishu", {"enabled": True, "appId": "cli_2", "appSecret": "x", "domain": "lark"},
           mode="Custom", name="飞书")
    ch = get(tenant, rid)["feishu"]
    assert ch["ConfigMode"] == "Custom"
    assert json.loads(ch["Config"]) == {"enabled": True, "appId": "cli_2", "appSecret": MASK, "domain": "lark"}


def test_custom_mode_masks_secret_looking_fields(tenant):
    (rid,) = tenant.create(image=IMG_UBUNTU, amount=1, name="ch-custom")
    cfg = {"enabled": True, "clientId": "dingx", "clientSecret": "cs-1", "dmPolicy": "open", "allowFrom": ["*"],
           "accounts": {"main": {"clientId": "d2", "clientSecret": "cs-2", "token": "t"}}}
    config(tenant, [rid], "dingtalk-connector", cfg, mode="Custom")
    got = json.loads(get(tenant, rid)["dingtalk-connector"]["Config"])
    assert got == {"enabled": True, "clientId": "dingx", "clientSecret": MASK, "dmPolicy": "open", "allowFrom": ["*"],
                   "accounts": {"main": {"clientId": "d2", "clientSecret": MASK, "token": MASK}}}


def test_issue_11_custom_settings_show_only_fields_known_to_be_safe(tenant):
    """Issue 11 (masking by key name): feishu's encryptKey, secrets under unexpected keys and
    inside arrays came back in clear."""
    (rid,) = tenant.create(image=IMG_UBUNTU, amount=1, name="ch-allow")
    cfg = {"enabled": True, "appId": "cli_1", "domain": "lark", "connectionMode": "webhook", "historyLimit": 20,
           "encryptKey": "enc-1", "verificationToken": "vt-1", "notes": "the password is hunter2", "port": 8443,
           "allowFrom": ["ou_1"], "hooks": [{"url": "https://x.example/?sig=abc"}, "loose-secret"],
           "accounts": {"main": {"appId": "cli_2", "appSecret": "as-2", "encryptKey": "enc-2"}}}
    config(tenant, [rid], "feishu", cfg, mode="Custom")
    got = json.loads(get(tenant, rid)["feishu"]["Config"])
    assert got == {"enabled": True, "appId": "cli_1", "domain": "lark", "connectionMode": "webhook",
                   "historyLimit": 20, "encryptKey": MASK, "verificationToken": MASK, "notes": MASK, "port": MASK,
                   "allowFrom": ["ou_1"], "hooks": [{"url": MASK}, MASK],
                   "accounts": {"main": {"appId": "cli_2", "appSecret": MASK, "encryptKey": MASK}}}, got
    for secret in ("enc-1", "vt-1", "hunter2", "8443", "sig=abc", "loose-secret", "as-2", "enc-2"):
        assert secret not in json.dumps(got)
    # the same field names another connector does not take are masked there
    config(tenant, [rid], "qqbot", {"appId": "10203", "clientSecret": "cs", "domain": "lark",
                                    "streaming": {"mode": "partial", "key": "k"}}, mode="Custom")
    got = json.loads(get(tenant, rid)["qqbot"]["Config"])
    assert got == {"appId": "10203", "clientSecret": MASK, "domain": MASK, "streaming": {"mode": "partial", "key": MASK}}


def test_issue_11_masked_settings_sent_back_keep_the_stored_secrets(tenant):
    """A client reads the settings (masked), changes what it means to and sends them back."""
    ids = tenant.create(image=IMG_UBUNTU, amount=2, name="ch-keep")
    planted = f"PLANTED-{uuid.uuid4().hex}"
    first = {"enabled": True, "appId": "cli_1", "appSecret": planted, "encryptKey": "e-" + planted,
             "accounts": {"main": {"appSecret": "m-" + planted}}}
    config(tenant, [ids[0]], "feishu", first, mode="Custom")
    config(tenant, [ids[1]], "feishu", {"appId": "cli_9", "appSecret": "other-secret"})
    shown = json.loads(get(tenant, ids[0])["feishu"]["Config"])
    assert shown["appSecret"] == MASK and shown["encryptKey"] == MASK, shown
    shown["domain"] = "lark"
    config(tenant, [ids[0]], "feishu", shown, mode="Custom")
    again = json.loads(get(tenant, ids[0])["feishu"]["Config"])
    assert again == {**shown, "domain": "lark"}, again
    # Sending the masks back once more is still accepted: the secrets are still there, not the mask.
    config(tenant, [ids[0]], "feishu", again, mode="Custom")
    # Switching to Simple mode keeps the Custom secret at the same place.
    config(tenant, [ids[0]], "feishu", {"appId": "cli_1", "appSecret": MASK})
    assert json.loads(get(tenant, ids[0])["feishu"]["Config"]) == {"appId": "cli_1", "appSecret": MASK}
    # A mask where nothing is stored is refused, naming the field and the runtime; the batch applies whole.
    expect_error(lambda: config(tenant, [ids[0]], "feishu", {"appId": "cli_1", "appSecret": MASK,
                                                            "encryptKey": MASK}, mode="Custom"),
                 "InvalidParameter", 400, names="Config.encryptKey")
    (fresh,) = tenant.create(image=IMG_UBUNTU, amount=1, name="ch-keep-new")
    exc = expect_error(lambda: config(tenant, [ids[1], fresh], "feishu", {"appId": "cli_9", "appSecret": MASK}),
                       "InvalidParameter", 400, names="Config.appSecret")
    assert fresh in str(exc)
    assert get(tenant, fresh) == {}
    # Each runtime of a batch keeps its own secret; none of them ever comes back.
    config(tenant, ids, "feishu", {"appId": "cli_same", "appSecret": MASK})
    for rid in ids:
        assert json.loads(get(tenant, rid)["feishu"]["Config"]) == {"appId": "cli_same", "appSecret": MASK}
    assert planted not in tenant.server.log_text() and "other-secret" not in tenant.server.log_text()


def test_wechat_waits_for_the_qr_code(tenant):
    ids = tenant.create(image=IMG_UBUNTU, amount=1, name="ch-wx")
    config(tenant, ids, "wechat", "{}")
    config(tenant, ids, "dingtalk-connector", {"appKey": "k", "appSecret": "s"})
    ch = get(tenant, ids[0])["wechat"]
    assert ch["Status"] == "Configuring" and ch["QrCodeStatus"], ch
    r = rows(tenant, ids)[ids[0]]
    assert r["QrCodeConfiguringList"] == ["wechat"], r
    assert r["ChannelConfiguredList"] == ["dingtalk-connector"], r
    assert r["AgentInstanceInfoList"][0]["ChannelConfiguredList"] == ["dingtalk-connector"], r
    remove(tenant, ids, "dingtalk-connector")
    r = rows(tenant, ids)[ids[0]]
    # a channel still waiting for its QR-code login does not count as configured
    assert r["ChannelConfigure"] is False and r["QrCodeConfiguringList"] == ["wechat"], r
    assert tenant.runtime_ids(desktop_ids=ids, channel_configure=True) == set()
    expect_error(lambda: config(tenant, ids, "wechat", {"token": "x"}), "InvalidParameter", 400, names="Config.token")


def test_remove(tenant):
    ids = tenant.create(image=IMG_UBUNTU, amount=2, name="ch-rm")
    config(tenant, ids, "qqbot", {"appId": "1", "clientSecret": "c"})
    config(tenant, ids, "wecom", {"botId": "b", "secret": "c"})
    remove(tenant, [ids[0]], "qqbot")
    assert sorted(get(tenant, ids[0])) == ["wecom"]
    assert sorted(get(tenant, ids[1])) == ["qqbot", "wecom"]
    # removing what is not there is fine
    remove(tenant, [ids[0]], "qqbot")
    remove(tenant, ids, "feishu")
    listed = rows(tenant, ids)
    assert listed[ids[0]]["ChannelConfiguredList"] == ["wecom"]
    assert listed[ids[1]]["ChannelConfiguredList"] == ["qqbot", "wecom"]
    expect_error(lambda: remove(tenant, ids + ["ecd-doesnotexist0000"], "wecom"), "InvalidRuntimeId.NotFound", 404,
                 names="ecd-doesnotexist0000")
    assert sorted(get(tenant, ids[1])) == ["qqbot", "wecom"]
    expect_error(lambda: remove(tenant, ids, "slack"), "InvalidParameter", 400, names="Code")


def test_validation(tenant):
    ids = tenant.create(image=IMG_UBUNTU, amount=1, name="ch-bad")
    hermes = tenant.create(bundle=BUNDLE_HERMES, amount=1, name="ch-bad-h")
    good = {"appKey": "k", "appSecret": "s"}
    expect_error(lambda: config(tenant, ids, "slack", good), "InvalidParameter", 400, names="Code")
    expect_error(lambda: config(tenant, ids, "dingtalk-connector", {"appKey": "k"}), "InvalidParameter", 400,
                 names="Config.appSecret")
    expect_error(lambda: config(tenant, ids, "dingtalk-connector", {"appKey": "", "appSecret": "s"}),
                 "InvalidParameter", 400, names="Config.appKey")
    expect_error(lambda: config(tenant, ids, "feishu", {"appId": "a", "appSecret": 5}), "InvalidParameter", 400,
                 names="Config.appSecret")
    expect_error(lambda: config(tenant, ids, "qqbot", {"appId": "a"}), "InvalidParameter", 400,
                 names="Config.clientSecret")
    expect_error(lambda: config(tenant, ids, "wecom", {"secret": "a"}), "InvalidParameter", 400, names="Config.botId")
    expect_error(lambda: config(tenant, ids, "dingtalk-connector", "{not json"), "InvalidParameter", 400,
                 names="Config")
    expect_error(lambda: config(tenant, ids, "dingtalk-connector", "[1, 2]", mode="Custom"), "InvalidParameter", 400,
                 names="Config")
    expect_error(lambda: config(tenant, ids, "dingtalk-connector", {"a": "x" * 20000}, mode="Custom"),
                 "InvalidParameter", 400, names="Config")
    expect_error(lambda: config(tenant, ids, "dingtalk-connector", good, mode="Fancy"), "InvalidParameter", 400,
                 names="ConfigMode")
    expect_error(lambda: config(tenant, ids, "dingtalk-connector", good, name="n" * 65), "InvalidParameter", 400,
                 names="Name")
    expect_error(lambda: config(tenant, [], "dingtalk-connector", good), "MissingParameter", 400, names="RuntimeIds")
    expect_error(lambda: config(tenant, ids, "dingtalk-connector", good, provider=None), "MissingParameter", 400,
                 names="AgentProvider")
    # issue 11 (validation gaps): the enum-like parameters take only their documented values
    expect_error(lambda: config(tenant, ids, "dingtalk-connector", good, provider="Nope"), "InvalidParameter", 400,
                 names="AgentProvider")
    expect_error(lambda: config(tenant, ids, "dingtalk-connector", good, platform="MOBILE"), "InvalidParameter", 400,
                 names="AgentPlatform")
    expect_error(lambda: tenant.appstream.config_runtime_channel(a().ConfigRuntimeChannelRequest(
        agent_provider="OpenClaw", code="feishu", config="{}", runtime_ids=ids, runtime_type="Nope")),
        "InvalidParameter", 400, names="RuntimeType")
    expect_error(lambda: tenant.appstream.get_runtime_channel(a().GetRuntimeChannelRequest(
        agent_provider="OpenClaw", runtime_id=ids[0], runtime_type="Nope")), "InvalidParameter", 400,
        names="RuntimeType")
    expect_error(lambda: tenant.appstream.config_runtime_channel(a().ConfigRuntimeChannelRequest(
        agent_provider="OpenClaw", code="feishu", runtime_ids=ids, runtime_type="CloudDesktop")),
        "MissingParameter", 400, names="Config")
    expect_error(lambda: tenant.appstream.get_runtime_channel(a().GetRuntimeChannelRequest(
        agent_provider="OpenClaw", runtime_type="CloudDesktop")), "MissingParameter", 400, names="RuntimeId")
    # the batch applies whole or not at all
    expect_error(lambda: config(tenant, ids + ["ecd-doesnotexist0000"], "dingtalk-connector", good),
                 "InvalidRuntimeId.NotFound", 404, names="ecd-doesnotexist0000")
    assert get(tenant, ids[0]) == {}
    expect_error(lambda: config(tenant, ids + hermes, "dingtalk-connector", good), "InvalidAgentProvider.Mismatch",
                 400, names=hermes[0])
    expect_error(lambda: config(tenant, ids, "dingtalk-connector", good, platform="ENTERPRISE_JVS"),
                 "InvalidAgentPlatform.Mismatch", 400, names="ENTERPRISE_JVS")
    assert get(tenant, ids[0]) == {}
    expect_error(lambda: get(tenant, hermes[0]), "InvalidAgentProvider.Mismatch", 400)
    expect_error(lambda: get(tenant, "ecd-doesnotexist0000"), "InvalidRuntimeId.NotFound", 404)
    # Hermes runtimes take channels under their own provider
    config(tenant, hermes, "dingtalk-connector", good, provider="HermesAgent")
    assert sorted(get(tenant, hermes[0], provider="HermesAgent")) == ["dingtalk-connector"]
    assert rows(tenant, hermes, provider="HermesAgent")[hermes[0]]["ChannelConfiguredList"] == ["dingtalk-connector"]


def test_deleted_runtimes_are_not_found(tenant):
    ids = tenant.create(image=IMG_UBUNTU, amount=1, name="ch-del")
    tenant.delete(ids)
    wait_until(lambda: tenant.status(ids[0]) == "Deleted", 30, what="desktop deleted")
    expect_error(lambda: config(tenant, ids, "feishu", {"appId": "a", "appSecret": "b"}), "InvalidRuntimeId.NotFound",
                 404)
    expect_error(lambda: get(tenant, ids[0]), "InvalidRuntimeId.NotFound", 404)


def test_tenants_cannot_touch_each_others_channels(server):
    a_info, b_info = server.create_tenant(), server.create_tenant()
    ta = server.api((a_info["AccessKeyId"], a_info["AccessKeySecret"]))
    tb = server.api((b_info["AccessKeyId"], b_info["AccessKeySecret"]))
    a_ids = ta.create(image=IMG_UBUNTU, amount=1, name="iso-a")
    config(ta, a_ids, "feishu", {"appId": "a", "appSecret": "b"})
    expect_error(lambda: get(tb, a_ids[0]), "InvalidRuntimeId.NotFound", 404)
    expect_error(lambda: config(tb, a_ids, "feishu", {"appId": "x", "appSecret": "y"}), "InvalidRuntimeId.NotFound",
                 404)
    expect_error(lambda: remove(tb, a_ids, "feishu"), "InvalidRuntimeId.NotFound", 404)
    assert json.loads(get(ta, a_ids[0])["feishu"]["Config"]) == {"appId": "a", "appSecret": MASK}
    assert tb.runtime_ids(channel_configure=True) == set()


def _database_text(srv) -> str:
    """Everything the store holds, as text: the SQLite files, or a dump of the PostgreSQL database."""
    if srv.database_url:
        dbname = srv.database_url.rsplit("/", 1)[1]
        host, port = srv.database_url.split("@", 1)[1].split("/", 1)[0].split(":")
        res = subprocess.run(["pg_dump", "-h", host, "-p", port, "-U", "postgres", dbname], capture_output=True,
                             timeout=60, stdin=subprocess.DEVNULL)
        assert res.returncode == 0, res.stderr
        return res.stdout.decode(errors="replace")
    out = []
    for name in os.listdir(srv.data_dir):
        path = srv.data_dir / name
        if path.is_file():
            out.append(path.read_bytes().decode("latin-1"))
    return "\n".join(out)


def test_secrets_stay_secret_and_survive_a_restart(server_factory):
    srv = server_factory()
    root = srv.api()
    planted = f"PLANTED-{uuid.uuid4().hex}"
    ids = root.create(image=IMG_UBUNTU, amount=2, name="secret")
    config(root, ids, "dingtalk-connector", {"appKey": "ding-visible", "appSecret": planted})
    config(root, ids, "feishu", {"enabled": True, "appId": "cli_v", "accounts": {"a": {"appSecret": planted}}},
           mode="Custom")
    config(root, [ids[0]], "wechat", "{}")
    # secrets in refused requests must not come back either
    for bad in ({"appKey": "k", "appSecret": planted, "extra": planted}, {"appKey": planted}):
        exc = expect_error(lambda bad=bad: config(root, ids, "dingtalk-connector", bad), "InvalidParameter", 400)
        assert planted not in str(exc)
    expect_error(lambda: config(root, ids, "slack", {"appSecret": planted}), "InvalidParameter", 400)
    before = {rid: get(root, rid) for rid in ids}
    before_rows = {rid: {k: r[k] for k in ("ChannelConfigure", "ChannelConfiguredList", "QrCodeConfiguringList")}
                   for rid, r in rows(root, ids).items()}
    assert planted not in json.dumps(before)
    assert before[ids[0]]["wechat"]["Status"] == "Configuring"

    srv.restart()
    root = srv.api()
    assert {rid: get(root, rid) for rid in ids} == before
    after_rows = {rid: {k: r[k] for k in ("ChannelConfigure", "ChannelConfiguredList", "QrCodeConfiguringList")}
                  for rid, r in rows(root, ids).items()}
    assert after_rows == before_rows
    assert planted not in srv.log_text()
    text = _database_text(srv)
    assert ids[0] in text and "dingtalk-connector" in text  # the dump really holds the channel rows
    assert "ding-visible" not in text  # the whole settings object is encrypted
    assert planted not in text
