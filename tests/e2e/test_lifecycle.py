"""Simulated provisioning with a step delay, persistence across restarts, and the `amc call` CLI."""

from __future__ import annotations

import json
import os
import subprocess

from amc_e2e import (
    BUNDLE_HERMES,
    IMG_UBUNTU,
    REGION,
    V_ECD,
    expect_error,
    expect_ok,
    expect_raw_error,
    new_nonce,
    raw_v2,
    raw_v3,
    wait_until,
)

STEP_MS = 400
SETTLE_S = 15  # bounded wait for transitions of a few steps


def _instance_status(api, desktop_id, provider="OpenClaw"):
    rows = api.runtimes(agent_provider=provider, desktop_ids=[desktop_id])
    if len(rows) != 1:
        return None
    return rows[0]["AgentInstanceInfoList"][0]["AgentInstanceStatus"]


def test_provisioning_with_step_delay(server_factory):
    srv = server_factory(delay_ms=STEP_MS)
    api = srv.api()
    ids = api.create(image=IMG_UBUNTU, amount=2, name="slow")
    first = {d["DesktopId"]: d["DesktopStatus"] for d in api.desktops(desktop_id=ids)}
    assert set(first) == set(ids)
    assert all(s in ("Pending", "Starting") for s in first.values()), first
    seen = set(first.values())

    def all_running():
        states = {d["DesktopId"]: d["DesktopStatus"] for d in api.desktops(desktop_id=ids)}
        seen.update(states.values())
        assert set(states.values()) <= {"Pending", "Starting", "Running"}, states
        return all(s == "Running" for s in states.values())

    wait_until(all_running, SETTLE_S, what="new desktops to reach Running")
    wait_until(lambda: all(_instance_status(api, i) == "Running" for i in ids), SETTLE_S,
               what="agent instances to reach Running")

    api.stop([ids[0]])
    assert api.status(ids[0]) == "Stopping"
    # a desktop in transition refuses another power operation
    expect_error(lambda: api.start([ids[0]]), "IncorrectDesktopStatus", 400)
    wait_until(lambda: api.status(ids[0]) == "Stopped", SETTLE_S, what="Stopping -> Stopped")
    api.start([ids[0]])
    assert api.status(ids[0]) in ("Starting", "Pending"), api.status(ids[0])
    wait_until(lambda: api.status(ids[0]) == "Running", SETTLE_S, what="Starting -> Running")
    assert api.status(ids[1]) == "Running"


def test_issue_11_stopping_while_the_agent_deploys_says_what_blocks_it(server_factory):
    """Issue 11 (validation gaps): StopDesktops on a new desktop that is Running while its agent is
    still being deployed was refused with "... is Running", which is the state that allows it."""
    srv = server_factory(delay_ms=1500)
    api = srv.api()
    (rid,) = api.create(image=IMG_UBUNTU, amount=1, name="deploying")
    wait_until(lambda: api.status(rid) == "Running", SETTLE_S, interval=0.05, what="desktop Running")
    assert _instance_status(api, rid) in ("Deploying", "Deployed"), _instance_status(api, rid)
    for call in (api.stop, api.reboot):
        exc = expect_error(lambda call=call: call([rid]), "IncorrectDesktopStatus", 400, names="being deployed")
        assert rid in str(exc) and "Running" in str(exc), exc
    # once the agent runs, the same call goes through; deleting never waits
    wait_until(lambda: _instance_status(api, rid) == "Running", SETTLE_S, what="agent Running")
    api.stop([rid])
    (other,) = api.create(image=IMG_UBUNTU, amount=1, name="deploying-2")
    wait_until(lambda: api.status(other) == "Running", SETTLE_S, interval=0.05, what="desktop Running")
    api.delete([other])


def test_hermes_provisioning_with_step_delay(server_factory):
    srv = server_factory(delay_ms=STEP_MS)
    api = srv.api()
    (jid,) = api.create(bundle=BUNDLE_HERMES, amount=1, name="slow-hermes")
    assert api.status(jid) in ("Pending", "Starting")
    wait_until(lambda: api.status(jid) == "Running", SETTLE_S, what="jvs desktop to reach Running")
    wait_until(lambda: _instance_status(api, jid, "HermesAgent") == "Running", SETTLE_S,
               what="Hermes agent instance to reach Running")


def _snapshot(api):
    desktops = api.describe(fill_resource_group=True, page_size=100)
    desktops.pop("RequestId", None)
    desktops.pop("NextToken", None)  # a cursor, not data
    runtimes = {}
    for provider in ("OpenClaw", "HermesAgent"):
        body = api.runtimes_page(agent_provider=provider, page_size=100, include_risk_info=True)
        body.pop("RequestId", None)
        runtimes[provider] = body
    return desktops, runtimes


def test_restart_keeps_everything(server_factory):
    srv = server_factory()
    root = srv.api()
    info = srv.create_tenant()
    other = srv.api((info["AccessKeyId"], info["AccessKeySecret"]))
    rg = root.create_group("persist")
    site = root.create_office_site("persist")
    ids = root.create(image=IMG_UBUNTU, amount=3, name="persist", users=["alice"], rg=rg, tags={"k": "v"},
                      charge_type="PostPaid", office_site_id=site)
    hermes = root.create(bundle=BUNDLE_HERMES, amount=1, name="persist-h", users=["bob"])
    other_ids = other.create(image=IMG_UBUNTU, amount=1, name="other")
    root.stop([ids[0]])
    root.delete([ids[1]])
    before = _snapshot(root)
    before_other = _snapshot(other)
    deleted_before = root.desktop(ids[1])

    nonce = new_nonce()
    expect_ok(raw_v3(srv, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=nonce))
    nonce_v2 = new_nonce()
    expect_ok(raw_v2(srv, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=nonce_v2))

    srv.restart()

    root = srv.api()
    assert _snapshot(root) == before
    assert _snapshot(srv.api((info["AccessKeyId"], info["AccessKeySecret"]))) == before_other
    assert root.desktop(ids[1]) == deleted_before
    assert root.status(ids[0]) == "Stopped"
    assert root.status(ids[2]) == "Running"
    assert root.status(hermes[0]) == "Running"
    assert [d["DesktopId"] for d in srv.api((info["AccessKeyId"], info["AccessKeySecret"])).desktops()] == other_ids
    # nonces used before the restart are still refused
    expect_raw_error(raw_v3(srv, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=nonce),
                     "SignatureNonceUsed", 400)
    expect_raw_error(raw_v2(srv, "DescribeDesktops", V_ECD, {"RegionId": REGION}, nonce=nonce_v2),
                     "SignatureNonceUsed", 400)
    # and the state machine carries on
    root.start([ids[0]])
    assert root.status(ids[0]) == "Running"
    new = root.create(image=IMG_UBUNTU, amount=1, name="after")
    assert new[0] not in ids + hermes + other_ids


def test_restart_during_provisioning_finishes(server_factory):
    srv = server_factory(delay_ms=STEP_MS)
    api = srv.api()
    ids = api.create(image=IMG_UBUNTU, amount=1, name="interrupted")
    srv.restart()
    api = srv.api()
    wait_until(lambda: api.status(ids[0]) == "Running", SETTLE_S + 10,
               what="a desktop whose provisioning was interrupted by a restart to reach Running")


def _cli(srv, *args, key=None):
    ak, sk = key or srv.root_key
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMC_")}
    env.update(AMC_ACCESS_KEY_ID=ak, AMC_ACCESS_KEY_SECRET=sk)
    return subprocess.run([srv.binary, "call", *args, "--endpoint", srv.url], capture_output=True, text=True,
                          timeout=60, env=env, stdin=subprocess.DEVNULL)


def _cli_error(res):
    assert res.returncode != 0, res.stdout
    for text in (res.stdout, res.stderr):
        try:
            body = json.loads(text)
        except ValueError:
            continue
        if isinstance(body, dict) and body.get("Code"):
            return body
    raise AssertionError(f"amc call failed without a JSON error body: {res.stdout!r} {res.stderr!r}")


def test_cli_call(server):
    info = server.create_tenant()
    key = (info["AccessKeyId"], info["AccessKeySecret"])
    api = server.api(key)
    ids = api.create(image=IMG_UBUNTU, amount=2, name="cli")

    res = _cli(server, "DescribeDesktops", "--Version", V_ECD, "--RegionId", REGION, key=key)
    assert res.returncode == 0, (res.stdout, res.stderr)
    body = json.loads(res.stdout)
    assert body.get("RequestId")
    assert sorted(d["DesktopId"] for d in body["Desktops"]) == sorted(ids)

    res = _cli(server, "StopDesktops", "--Version", V_ECD, "--RegionId", REGION, "--DesktopId.1", ids[0], key=key)
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert json.loads(res.stdout).get("RequestId")
    assert api.status(ids[0]) == "Stopped"

    res = _cli(server, "ListDesktopAgentRuntime", "--Version", "2021-09-01", "--AgentProvider", "OpenClaw",
               "--DesktopStatuses.1", "Stopped", key=key)
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert [r["DesktopId"] for r in json.loads(res.stdout)["Data"]] == [ids[0]]

    # errors: non-zero exit, the JSON error body on stdout
    res = _cli(server, "StopDesktops", "--Version", V_ECD, "--RegionId", REGION, "--DesktopId.1", ids[0], key=key)
    assert _cli_error(res)["Code"] == "IncorrectDesktopStatus"
    res = _cli(server, "DescribeDesktops", "--Version", V_ECD, "--RegionId", REGION, key=(key[0], "wrong"))
    assert _cli_error(res)["Code"] == "SignatureDoesNotMatch"
