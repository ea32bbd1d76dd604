"""The node daemon end to end: real `amc agent` processes on temporary home directories deliver a
model group and channels into the agents' own files (checked by the agents' own validators), report
drift (ModelModified, ChannelModified, AgentUninstalled) that the official SDK then shows, repair it
when told to, converge after kills and restarts in either order, enrol and revoke, and turn
Unavailable when silent."""

from __future__ import annotations

import json
import shutil
import time

import pytest
import requests

from agent_e2e import (Agent, hermes_bin, hermes_load, load_json5, mode_of, node_bin, openclaw_bin,
                       openclaw_validate, validators_dir, wait_for)
from amc_e2e import BUNDLE_HERMES, IMG_UBUNTU
from test_channels import config as config_channel
from test_channels import get as get_channels
from test_delivery import config_rt, model_config
from test_models import Models

API_KEY = "sk-agent-e2e-7f3a9c1d5e8b2a4f6c0d"
FEISHU_SECRET = "feishu-secret-e2e-93b1c7"
DINGTALK_SECRET = "dingtalk-secret-e2e-51ad0e"


def token_for(server, runtime_id: str) -> str:
    out = server.admin("enroll-token", "--runtime", runtime_id, *server.store_args())
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip().splitlines()[-1]
    assert token.startswith("et-"), out.stdout
    return token


def model_group(api, provider: str = "OpenClaw", base_url: str = "http://127.0.0.1:9/v1") -> tuple[str, str]:
    mdl = Models(api)
    mt = mdl.create_group(name=f"agent-{provider}", provider=provider)
    mpt = mdl.create_provider(mt, "provider-corp", {"baseUrl": base_url, "apiKey": API_KEY,
                                                    "api": "openai-completions"}, provider=provider)
    mdl.add_models(mpt, [{"llm_code": "corp-large", "name": "Corp Large", "is_default_model": True,
                          "config": json.dumps({"contextWindow": 131072, "maxTokens": 8192,
                                                "input": ["text"], "features": ["function-calling"]})}])
    return mt, mpt


def runtime_row(api, rid: str, provider: str = "OpenClaw", **kw) -> dict:
    rows = api.runtimes(agent_provider=provider, desktop_ids=[rid], include_risk_info=True, **kw)
    assert len(rows) == 1, rows
    return rows[0]


def risk(api, rid: str, provider: str = "OpenClaw") -> dict:
    return runtime_row(api, rid, provider)["RiskInfo"]


def openclaw_agent(server, tmp_path, name: str = "host", **kw) -> Agent:
    return Agent(server.binary, tmp_path / name, path_dirs=[node_bin(), openclaw_bin()], **kw)


def install_openclaw(agent: Agent) -> None:
    """OpenClaw as a host without it on PATH has it: its state directory with its config file."""
    (agent.home / ".openclaw").mkdir(parents=True, exist_ok=True)
    agent.openclaw_json.write_text('{"gateway": {"mode": "local"}}\n')


def secrets_absent(*texts: str) -> None:
    for text in texts:
        for secret in (API_KEY, FEISHU_SECRET, DINGTALK_SECRET):
            assert secret not in text, "a secret reached a log"


def test_openclaw_delivery_drift_repair_and_redelivery(server, tenant, tmp_path):
    validators_dir()
    rid = tenant.create(image=IMG_UBUNTU, name="agent-oc")[0]
    mt, _ = model_group(tenant)
    config_rt(tenant, mt, [rid])
    config_channel(tenant, [rid], "feishu", {"appId": "cli_e2e_agent", "appSecret": FEISHU_SECRET})

    agent = openclaw_agent(server, tmp_path)
    enrolled = agent.enroll(server.url, token_for(server, rid))
    assert enrolled.stdout.strip().splitlines()[-1] == rid
    assert mode_of(agent.dir / "credentials.json") == 0o600
    agent.start()
    try:
        def delivered():
            data = load_json5(agent.openclaw_json)
            return data if "provider-corp" in data.get("models", {}).get("providers", {}) else None

        data = wait_for(delivered, "the model group in openclaw.json", on_fail=agent.log_text)
        provider = data["models"]["providers"]["provider-corp"]
        assert provider["baseUrl"] == "http://127.0.0.1:9/v1"
        assert provider["apiKey"] == API_KEY
        assert [m["id"] for m in provider["models"]] == ["corp-large"]
        assert data["agents"]["defaults"]["model"]["primary"] == "provider-corp/corp-large"
        assert data["channels"]["feishu"]["appSecret"] == FEISHU_SECRET
        assert data["plugins"]["entries"]["feishu"]["enabled"] is True
        assert data["gateway"]["mode"] == "local"
        assert mode_of(agent.openclaw_json) == 0o600
        result = openclaw_validate(agent.openclaw_json)
        assert result["valid"], result

        # What the daemon reports, as the SDK shows it.
        row = wait_for(lambda: (r := runtime_row(tenant, rid))["AgentInstanceInfoList"][0][
            "AgentInstanceVersion"] == "2026.9.6" and r, "the reported version")
        instance = row["AgentInstanceInfoList"][0]
        assert instance["AgentInstanceStatus"] == "Stopped"  # installed, no gateway process
        assert row["RiskInfo"] == {"AgentUninstalled": False, "ChannelModified": False, "ModelModified": False}
        assert rid in tenant.runtime_ids(agent_provider="OpenClaw", agent_instance_versions=["2026.9.6"])
        assert rid not in tenant.runtime_ids(agent_provider="OpenClaw", include_risk_info=True, has_risk=True)

        # A hand edit of the delivered model: reported, left in place.
        text = agent.openclaw_json.read_text()
        agent.openclaw_json.write_text(text.replace("http://127.0.0.1:9/v1", "http://evil.example/v1"))
        wait_for(lambda: risk(tenant, rid)["ModelModified"], "ModelModified", on_fail=agent.log_text)
        assert rid in tenant.runtime_ids(agent_provider="OpenClaw", include_risk_info=True, has_risk=True)
        assert rid not in tenant.runtime_ids(agent_provider="OpenClaw", include_risk_info=True, has_risk=False)
        llms = model_config(tenant, rid, risk=True)["ModelProviderList"][0]["LlmInfoList"]
        assert {m["RiskType"] for m in llms} == {"ModelModified"}
        time.sleep(1.5)
        assert "evil.example" in agent.openclaw_json.read_text(), "drift was repaired without being asked"

        # A hand edit of the channel.
        data = load_json5(agent.openclaw_json)
        data["channels"]["feishu"]["appId"] = "cli_someone_else"
        agent.openclaw_json.write_text(json.dumps(data, indent=2))
        wait_for(lambda: risk(tenant, rid)["ChannelModified"], "ChannelModified", on_fail=agent.log_text)
        assert get_channels(tenant, rid, risk=True)["feishu"]["RiskType"] == "ChannelModified"

        # Edits amc does not own are no drift: another provider of the user's, a comment.
        # Delivering again (a new generation) restores what was delivered.
        Models(tenant).update_group(mt, description="delivered again")
        wait_for(lambda: not any(risk(tenant, rid).values()), "risk cleared by a new delivery",
                 on_fail=agent.log_text)
        data = load_json5(agent.openclaw_json)
        assert data["models"]["providers"]["provider-corp"]["baseUrl"] == "http://127.0.0.1:9/v1"
        assert data["channels"]["feishu"]["appId"] == "cli_e2e_agent"
        assert get_channels(tenant, rid, risk=True)["feishu"]["RiskType"] == "Normal"

        text = agent.openclaw_json.read_text()
        user_edit = text.replace('"models"', '// my own note\n  "models"', 1)
        agent.openclaw_json.write_text(user_edit)
        time.sleep(1.5)
        assert not any(risk(tenant, rid).values())

        # Told to repair: a hand edit is undone at once.
        out = server.admin("drift-policy", "--runtime", rid, "--repair", *server.store_args())
        assert out.returncode == 0, out.stderr
        time.sleep(1.0)
        text = agent.openclaw_json.read_text()
        agent.openclaw_json.write_text(text.replace(API_KEY, "sk-stolen"))
        wait_for(lambda: API_KEY in agent.openclaw_json.read_text(), "drift repaired", on_fail=agent.log_text)
        assert "// my own note" in agent.openclaw_json.read_text(), "the user's comment was lost"
        assert openclaw_validate(agent.openclaw_json)["valid"]
        assert not any(risk(tenant, rid).values())
    finally:
        agent.kill()
    secrets_absent(agent.log_text(), server.log_text())


def test_an_uninstalled_agent_is_reported_and_left_alone(server, tenant, tmp_path):
    rid = tenant.create(image=IMG_UBUNTU, name="agent-uninstall")[0]
    mt, _ = model_group(tenant)
    config_rt(tenant, mt, [rid])
    # No executable on PATH: the agent counts as installed by its state directory and config file.
    agent = Agent(server.binary, tmp_path / "host")
    (agent.home / ".openclaw").mkdir()
    agent.openclaw_json.write_text('{\n  // the user\'s own file\n  "gateway": {"mode": "local"},\n}\n')
    agent.enroll(server.url, token_for(server, rid))
    agent.start()
    try:
        wait_for(lambda: "provider-corp" in agent.openclaw_json.read_text(), "delivery", on_fail=agent.log_text)
        assert "the user's own file" in agent.openclaw_json.read_text()
        wait_for(lambda: runtime_row(tenant, rid)["AgentInstanceInfoList"][0]["AgentInstanceStatus"] == "Stopped",
                 "a report")
        shutil.rmtree(agent.home / ".openclaw")
        wait_for(lambda: risk(tenant, rid)["AgentUninstalled"], "AgentUninstalled", on_fail=agent.log_text)
        assert runtime_row(tenant, rid)["AgentInstanceInfoList"][0]["AgentInstanceStatus"] == "Undeployed"
        # A new delivery does not install the agent.
        Models(tenant).update_group(mt, description="while uninstalled")
        time.sleep(1.5)
        assert not (agent.home / ".openclaw").exists()
    finally:
        agent.kill()


def test_hermes_delivery_is_what_hermes_loads(server, tenant, tmp_path):
    validators_dir()
    rid = tenant.create(bundle=BUNDLE_HERMES, name="agent-hermes")[0]
    mt, _ = model_group(tenant, provider="HermesAgent")
    config_rt(tenant, mt, [rid])
    config_channel(tenant, [rid], "dingtalk-connector", {"appKey": "dingagente2e", "appSecret": DINGTALK_SECRET},
                   provider="HermesAgent")
    agent = Agent(server.binary, tmp_path / "host", path_dirs=[hermes_bin()])
    agent.hermes_home.mkdir(parents=True)
    user_config = "# my Hermes setup\nagent:\n  max_turns: 42  # keep it short\n"
    (agent.hermes_home / "config.yaml").write_text(user_config)
    (agent.hermes_home / ".env").write_text("# mine\nOPENROUTER_API_KEY=sk-or-users-own\n")
    agent.enroll(server.url, token_for(server, rid))
    agent.start()
    try:
        def loaded():
            result = hermes_load(agent.hermes_home)
            return result if (result.get("runtime") or {}).get("base_url") == "http://127.0.0.1:9/v1" else None

        result = wait_for(loaded, "Hermes to resolve the delivered provider", timeout=90, interval=1,
                          on_fail=agent.log_text)
        assert result["issues"] == [], result
        assert result["runtime"]["api_key"] == API_KEY
        assert result["model"]["default"] == "corp-large" and result["model"]["provider"] == "custom:provider-corp"
        assert "dingtalk" in result.get("platforms", []), result
        # The user's own lines stay, comments included.
        config_text = (agent.hermes_home / "config.yaml").read_text()
        assert config_text.startswith(user_config), config_text
        assert "sk-or-users-own" in (agent.hermes_home / ".env").read_text()
        assert API_KEY not in config_text, "the key belongs in .env"
        for path in agent.hermes_home.rglob("*"):
            if path.is_file() and (API_KEY in path.read_text(errors="ignore")
                                   or DINGTALK_SECRET in path.read_text(errors="ignore")):
                assert mode_of(path) == 0o600, path
        row = wait_for(lambda: (r := runtime_row(tenant, rid, "HermesAgent"))["AgentInstanceInfoList"][0][
            "AgentInstanceVersion"] == "0.19.0" and r, "the reported Hermes version")
        assert not any(row["RiskInfo"].values()), row
    finally:
        agent.kill()
    secrets_absent(agent.log_text(), server.log_text())


def test_kills_and_restarts_in_either_order_converge(server_factory, tmp_path):
    srv = server_factory()
    api = srv.api()
    rid = api.create(image=IMG_UBUNTU, name="agent-restarts")[0]
    mt, _ = model_group(api)
    config_rt(api, mt, [rid])
    agent = Agent(srv.binary, tmp_path / "host")
    install_openclaw(agent)
    agent.enroll(srv.url, token_for(srv, rid))
    agent.start()
    try:
        wait_for(lambda: "provider-corp" in agent.openclaw_json.read_text(), "delivery", on_fail=agent.log_text)
        # The daemon dies; the admin changes the group meanwhile; the daemon comes back and converges.
        agent.kill()
        Models(api).update_group(mt, description="while the daemon was down")
        mpt2 = Models(api).create_provider(mt, "provider-second", {"baseUrl": "http://127.0.0.1:8/v1",
                                                                  "apiKey": API_KEY})
        Models(api).add_models(mpt2, [{"llm_code": "second-model"}])
        agent.start()
        wait_for(lambda: "provider-second" in agent.openclaw_json.read_text(), "convergence after a daemon kill",
                 on_fail=agent.log_text)
        # The server dies; the user edits the file meanwhile; the server comes back: the report arrives.
        srv.kill()
        agent.openclaw_json.write_text(agent.openclaw_json.read_text().replace("http://127.0.0.1:8/v1",
                                                                               "http://elsewhere/v1"))
        time.sleep(2)
        srv.start()
        api = srv.api()
        wait_for(lambda: risk(api, rid)["ModelModified"], "the report after the server's restart",
                 on_fail=agent.log_text)
        # Both down, both up, the other order: nothing lost, a new delivery still converges.
        agent.kill()
        srv.kill()
        srv.start()
        api = srv.api()
        Models(api).update_group(mt, description="after both restarts")
        agent.start()
        wait_for(lambda: not risk(api, rid)["ModelModified"], "redelivery after both restarts",
                 on_fail=agent.log_text)
        assert "http://127.0.0.1:8/v1" in agent.openclaw_json.read_text()
    finally:
        agent.kill()


def test_enrolment_tokens_secrets_and_revocation(server, tenant, tmp_path):
    rid = tenant.create(image=IMG_UBUNTU, name="agent-enrol")[0]
    token = token_for(server, rid)
    first = Agent(server.binary, tmp_path / "first")
    install_openclaw(first)
    first.enroll(server.url, token)
    # One use only.
    again = Agent(server.binary, tmp_path / "again")
    refused = again.enroll(server.url, token, expect_ok=False)
    assert refused.returncode != 0 and "EnrolmentRefused" in refused.stderr, refused.stderr
    bogus = again.enroll(server.url, token.split(".")[0] + "." + "0" * 64, expect_ok=False)
    assert bogus.returncode != 0 and "EnrolmentRefused" in bogus.stderr

    first.start()
    wait_for(lambda: runtime_row(tenant, rid)["AgentInstanceInfoList"][0]["AgentInstanceStatus"] == "Stopped",
             "the first report")
    # Revoked: the daemon is refused and stops with the reason.
    out = server.admin("revoke", "--runtime", rid, *server.store_args())
    assert out.returncode == 0, out.stderr
    assert first.wait_exit(timeout=60) != 0
    assert "Unauthorized" in first.log_text()
    # Re-enrolment with a new token binds again.
    first.enroll(server.url, token_for(server, rid))
    first.start()
    time.sleep(1.0)
    assert first.alive(), first.log_text()
    first.kill()

    # A tenant secret registers hosts amc did not create, each as a new runtime.
    out = server.admin("enroll-token", "--new-hosts", "--tenant", tenant.info["AccountId"], *server.store_args())
    assert out.returncode == 0, out.stderr
    secret = out.stdout.strip().splitlines()[-1]
    own = Agent(server.binary, tmp_path / "own")
    (own.home / ".hermes").mkdir()
    (own.home / ".hermes" / "config.yaml").write_text("model:\n  default: local\n")
    new_id = own.enroll(server.url, secret, "--hostname", "byo-host-1").stdout.strip().splitlines()[-1]
    assert new_id.startswith("jvs-"), new_id
    row = runtime_row(tenant, new_id, "HermesAgent")
    assert row["DesktopName"] == "byo-host-1"
    other = Agent(server.binary, tmp_path / "own2")
    second_id = other.enroll(server.url, secret, "--product", "openclaw").stdout.strip().splitlines()[-1]
    assert second_id.startswith("ecd-") and second_id != new_id
    out = server.admin("revoke", "--token", secret, *server.store_args())
    assert out.returncode == 0, out.stderr
    third = Agent(server.binary, tmp_path / "own3")
    assert third.enroll(server.url, secret, "--product", "openclaw", expect_ok=False).returncode != 0


def test_a_silent_daemon_turns_unavailable(server_factory, tmp_path):
    srv = server_factory(args=("--agent-grace-secs", "3", "--agent-report-interval-secs", "1"))
    api = srv.api()
    rid = api.create(image=IMG_UBUNTU, name="agent-silent")[0]
    agent = Agent(srv.binary, tmp_path / "host")
    install_openclaw(agent)
    agent.enroll(srv.url, token_for(srv, rid))
    agent.start()
    status = lambda: runtime_row(api, rid)["AgentInstanceInfoList"][0]["AgentInstanceStatus"]  # noqa: E731
    try:
        wait_for(lambda: status() == "Stopped", "a report")
        agent.kill()
        wait_for(lambda: status() == "Unavailable", "Unavailable after the grace period", timeout=30)
        assert srv.api().runtime_ids(agent_provider="OpenClaw", agent_instance_statuses=["Unavailable"]) == {rid}
        agent.start()
        wait_for(lambda: status() == "Stopped", "back after the daemon restarts")
    finally:
        agent.kill()


def test_two_replicas_daemons_on_either(server_factory, replica_of, tmp_path):
    srv = server_factory()
    other = replica_of(srv)
    api = srv.api()
    ids = api.create(image=IMG_UBUNTU, name="agent-replicas", amount=2)
    mt, _ = model_group(api)
    config_rt(api, mt, ids)
    agents = []
    for rid, url in zip(ids, (srv.url, other.url)):
        agent = Agent(srv.binary, tmp_path / rid)
        install_openclaw(agent)
        agent.enroll(url, token_for(srv, rid))
        agent.start()
        agents.append(agent)
    try:
        for agent in agents:
            wait_for(lambda: "provider-corp" in agent.openclaw_json.read_text(), "delivery", on_fail=agent.log_text)
        # A change written through one replica reaches the daemons of both within seconds.
        mpt = Models(other.api()).create_provider(mt, "provider-later", {"baseUrl": "http://127.0.0.1:7/v1"})
        Models(other.api()).add_models(mpt, [{"llm_code": "later"}])
        started = time.monotonic()
        for agent in agents:
            wait_for(lambda: "provider-later" in agent.openclaw_json.read_text(), "the change on every daemon",
                     timeout=20, on_fail=agent.log_text)
        assert time.monotonic() - started < 20
    finally:
        for agent in agents:
            agent.kill()


def test_the_agent_endpoint_refuses_bad_input(server, tenant, tmp_path):
    base = f"{server.url}/agent/v1"
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Bearer nc-aaaaaaaaaaaaaaaaa." + "0" * 64}):
        r = requests.get(f"{base}/desired", headers=headers, timeout=10)
        assert r.status_code == 401 and r.json()["error"]["code"] == "Unauthorized", r.text
    r = requests.post(f"{base}/enroll", data=b"\xff\xfe not json", timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRequest", r.text
    r = requests.post(f"{base}/enroll", data=b"x" * (200 * 1024), timeout=10)
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "RequestRefused"

    rid = tenant.create(image=IMG_UBUNTU, name="agent-bad")[0]
    agent = Agent(server.binary, tmp_path / "host")
    agent.enroll(server.url, token_for(server, rid), "--product", "openclaw")
    credential = json.loads((agent.dir / "credentials.json").read_text())["credential"]
    auth = {"Authorization": f"Bearer {credential}"}
    good = {"agent": {"product": "OpenClaw", "installed": True, "running": False}}
    assert requests.post(f"{base}/report", json=good, headers=auth, timeout=10).status_code == 200
    for bad in ({"agent": {"product": "Nope", "installed": True, "running": False}},
                {**good, "channels": {"not-a-channel": {}}},
                {**good, "skills": ["x"] * 1001},
                {**good, "error": "e" * 5000}):
        r = requests.post(f"{base}/report", json=bad, headers=auth, timeout=10)
        assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRequest", r.text
    # The desired state waits at most what the protocol allows, and says so with 204.
    r = requests.get(f"{base}/desired", headers=auth, timeout=10)
    generation = r.json()["generation"]
    started = time.monotonic()
    r = requests.get(f"{base}/desired", params={"generation": generation, "wait": 1}, headers=auth, timeout=10)
    assert r.status_code == 204 and time.monotonic() - started >= 0.9
    # Another tenant's runtime is out of reach: the credential names one runtime only.
    other = server.create_tenant()
    other_api = server.api((other["AccessKeyId"], other["AccessKeySecret"]))
    assert rid not in other_api.runtime_ids(agent_provider="OpenClaw")
    with pytest.raises(AssertionError):
        token_for(server, "ecd-doesnotexist0000")


def test_a_simulated_fleet_runs_a_daemon_per_runtime(server_factory, tmp_path):
    fleet = tmp_path / "fleet"
    srv = server_factory(args=("--sim-daemons", str(fleet)))
    api = srv.api()
    openclaw = api.create(image=IMG_UBUNTU, name="sim-oc", amount=2)
    hermes = api.create(bundle=BUNDLE_HERMES, name="sim-hermes")
    mt, _ = model_group(api)
    config_rt(api, mt, openclaw)
    for rid in openclaw:
        config = fleet / rid / "home" / ".openclaw" / "openclaw.json"
        wait_for(lambda: config.exists() and "provider-corp" in config.read_text(), f"the daemon of {rid}",
                 timeout=60, on_fail=srv.log_tail)
    for rid, provider in [*((r, "OpenClaw") for r in openclaw), *((r, "HermesAgent") for r in hermes)]:
        wait_for(lambda: runtime_row(api, rid, provider)["AgentInstanceInfoList"][0]["AgentInstanceStatus"]
                 == "Stopped", f"the report of {rid}", timeout=60, on_fail=srv.log_tail)
    assert (fleet / hermes[0] / "home" / ".hermes" / "config.yaml").exists()


def test_a_qr_code_login_completed_on_the_host_configures_the_channel(server, tenant, tmp_path):
    rid = tenant.create(image=IMG_UBUNTU, name="agent-qr")[0]
    config_channel(tenant, [rid], "wechat", {})
    assert get_channels(tenant, rid)["wechat"]["Status"] == "Configuring"
    agent = Agent(server.binary, tmp_path / "host")
    install_openclaw(agent)
    agent.enroll(server.url, token_for(server, rid))
    agent.start()
    try:
        wait_for(lambda: "openclaw-weixin" in agent.openclaw_json.read_text(), "the channel", on_fail=agent.log_text)
        # The WeChat plugin records the login beside amc's settings, as it does after the scan.
        data = json.loads(agent.openclaw_json.read_text())
        data["channels"]["openclaw-weixin"]["accounts"] = {"main": {"enabled": True}}
        data["channels"]["openclaw-weixin"]["channelConfigUpdatedAt"] = 1
        agent.openclaw_json.write_text(json.dumps(data, indent=2))
        wait_for(lambda: get_channels(tenant, rid)["wechat"]["Status"] == "Configured", "the login reported",
                 on_fail=agent.log_text)
        assert get_channels(tenant, rid, risk=True)["wechat"]["RiskType"] == "Normal"
        assert runtime_row(tenant, rid)["QrCodeConfiguringList"] == []
    finally:
        agent.kill()
