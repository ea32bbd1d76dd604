"""The model gateway and model credits end to end: the agents' own model clients (OpenAI's and
Anthropic's Python SDKs) call amc's gateway with a runtime's gateway key; the gateway routes to a
mock upstream that these tests start, meters every call, and the official wss SDK reads what it
recorded. Deductions add up exactly, quotas and packs hold under concurrent calls (also across two
replicas on PostgreSQL), failures fall back or charge nothing, figures survive a restart, and vendor
keys reach neither hosts nor logs."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import anthropic
import openai
import pytest
import requests

from agent_e2e import Agent, load_json5, node_bin, openclaw_bin, openclaw_validate, wait_for
from amc_e2e import IMG_UBUNTU, _config, expect_error
from mock_llm import MockLlm
from test_agent import token_for
from test_delivery import config_rt
from test_models import Models

VENDOR_KEY = "sk-vendor-e2e-4b9d2f7a1c6e8035"
CREDIT_KEY = "sk-credit-upstream-e2e-93ac51d7"
# Credits per million tokens, as OpenClaw's model entries spell cost.
COST = {"input": 0.8, "output": 2, "cacheRead": 0.1}
# The mock's fixed counts: OpenAI 11 in / 7 out; Anthropic 13 in + 2 cached / 5 out.
OPENAI_CALL = Decimal("11") * Decimal("0.8") + Decimal("7") * 2
ANTHROPIC_CALL = Decimal("13") * Decimal("0.8") + Decimal("2") * Decimal("0.1") + Decimal("5") * 2


def micro(credits_per_million: Decimal) -> Decimal:
    """Credits of a call whose cost is given in credits per million tokens times tokens."""
    return credits_per_million / Decimal(1_000_000)


@pytest.fixture(scope="module")
def mock():
    m = MockLlm()
    yield m
    m.close()


def wss(server, key):
    from alibabacloud_wss20211221.client import Client

    return Client(_config(server, key, False))


def wss_models():
    from alibabacloud_wss20211221 import models

    return models


class Metered:
    """A tenant with one runtime on a model group amc proxies, a credit pack and a gateway key."""

    def __init__(self, server, api, mock, *, cost=None, models=None, group_config=None, pack: int | None = 1000,
                 base_url: str | None = None):
        self.server, self.api, self.mock = server, api, mock
        self.account = api.info["AccountId"]
        self.rid = api.create(image=IMG_UBUNTU, name="gateway")[0]
        mdl = Models(api)
        self.mt = mdl.create_group(name="metered")
        self.mpt = mdl.create_provider(self.mt, "provider-mock",
                                       {"baseUrl": base_url or f"{mock.url}/v1", "apiKey": VENDOR_KEY,
                                        "api": "openai-completions"}, enable_wuying_proxy=True)
        cost = cost or COST
        names = models or ["mock-small"]
        mdl.add_models(self.mpt, [{"llm_code": n, "name": n, "is_default_model": i == 0,
                                   "config": json.dumps({"cost": cost, "maxTokens": 256, "input": ["text"]})}
                                  for i, n in enumerate(names)])
        if group_config:
            mdl.update_group(self.mt, config=json.dumps(group_config))
        config_rt(api, self.mt, [self.rid])
        if pack is not None:
            self.pack = self.add_pack(pack)
        self.key = self.gateway_key()
        self.wss = wss(server, api.key)

    def add_pack(self, amount: int, *extra: str) -> str:
        out = self.server.admin("credits", "add", "--amount", str(amount), "--tenant", self.account, *extra,
                                *self.server.store_args())
        assert out.returncode == 0, out.stderr
        pack = out.stdout.strip().splitlines()[-1]
        assert pack.startswith("cp-inst-"), out.stdout
        return pack

    def gateway_key(self, *extra: str) -> str:
        out = self.server.admin("gateway-key", "--runtime", self.rid, *extra, *self.server.store_args())
        assert out.returncode == 0, out.stderr
        return out.stdout.strip().splitlines()[-1]

    def openai(self, server=None, **kw) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{(server or self.server).url}/v1", api_key=self.key, max_retries=0, **kw)

    def runs(self, **kw) -> dict:
        m = wss_models()
        return self.wss.describe_run_id_deductions(m.DescribeRunIdDeductionsRequest(**kw)).body.to_map()

    def usage(self, usage_type="Agent", ids=None) -> dict:
        m = wss_models()
        ids = ids if ids is not None else ([self.rid] if usage_type == "Agent" else None)
        body = self.wss.describe_credit_usage_info(
            m.DescribeCreditUsageInfoRequest(usage_type=usage_type, instance_ids=ids)).body.to_map()
        assert len(body["UsageInfoList"]) == 1, body
        return body["UsageInfoList"][0]["UsageInfo"]

    def set_quota(self, credits: int | None, ids=None) -> dict:
        m = wss_models()
        return self.wss.set_agent_credit_quota(m.SetAgentCreditQuotaRequest(
            agent_ids=ids or [self.rid], agent_type="OPEN_CLAW", credit_quota=credits)).body.to_map()

    def settled(self, count: int, **kw) -> dict:
        """The run deductions once `count` of them are written (settlements are batched)."""
        return wait_for(lambda: (lambda r: r if r["TotalCount"] >= count else None)(self.runs(**kw)),
                        f"{count} deductions", timeout=15)


def bursts(call) -> list[int]:
    """Statuses of bursts of 50 concurrent calls (`call(i)` gives one's status), until one is refused."""
    for _ in range(3):
        with ThreadPoolExecutor(50) as pool:
            statuses = list(pool.map(call, range(50)))
        if 429 in statuses:
            break
    return statuses


def chat(client: openai.OpenAI, model="mock-small", **kw):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hello"}],
                                          max_tokens=16, **kw)


def test_calls_are_metered_exactly_and_survive_a_restart(server, tenant, mock):
    m = Metered(server, tenant, mock)
    client = m.openai()
    for i in range(10):
        answer = chat(client, extra_headers={"X-Run-Id": f"run-{i}"})
        assert answer.choices[0].message.content == "Hello from the mock"
        assert answer.usage.prompt_tokens == 11
    for _ in range(10):
        pieces = list(chat(client, stream=True))
        assert "".join(p.choices[0].delta.content or "" for p in pieces if p.choices).startswith("word0")
    # The upstream got the vendor's key, the real model name, and was asked for stream usage.
    sent = mock.calls("mock-small")[-1]
    assert sent["headers"]["authorization"] == f"Bearer {VENDOR_KEY}", sent["headers"]
    assert sent["body"]["stream_options"] == {"include_usage": True}
    runs = m.settled(20)
    expected = micro(OPENAI_CALL) * 20
    assert Decimal(runs["TotalUsedTimeDecimal"]) == expected, runs
    row = next(d for d in runs["Deductions"] if d["RunId"] == "run-3")
    assert row["Model"] == "provider-mock/mock-small" and row["InstanceId"] == m.rid, row
    assert row["PackageId"] == m.pack and row["AgentType"] == "OPEN_CLAW", row
    assert Decimal(row["UsedTimeDecimal"]) == micro(OPENAI_CALL) and "11 input" in row["Summary"], row
    user = m.usage("User")
    assert Decimal(user["TotalUsed"]) == expected, user
    assert user["CurrentInstanceId"] == m.pack and user["TotalCredit"] == 1000, user
    assert user["RemainCredit"] == 999 and user["TotalUsedCredit"] == 1, user
    pack = m.usage("CreditPackage", [m.pack])
    assert Decimal(pack["TotalUsed"]) == expected, pack
    trend = m.usage()["CreditTrendList"]
    assert trend and trend[-1]["UsedCredit"] == 1, trend

    server.restart()
    assert Decimal(m.runs()["TotalUsedTimeDecimal"]) == expected
    assert Decimal(m.usage()["TotalUsed"]) == expected
    # Paged both ways the spec allows.
    first = m.runs(max_results=15)
    assert len(first["Deductions"]) == 15 and first["NextToken"], first
    rest = m.runs(max_results=15, next_token=first["NextToken"])
    assert len(rest["Deductions"]) == 5 and not rest.get("NextToken"), rest
    assert len(m.runs(page_num=2, page_size=8)["Deductions"]) == 8
    assert m.runs(package_ids=[m.pack])["TotalCount"] == 20
    assert m.runs(instance_ids=["ecd-nosuchagent0000"])["TotalCount"] == 0


def test_anthropic_messages_whole_and_streamed(server, tenant, mock):
    m = Metered(server, tenant, mock, base_url=mock.url)
    mdl = Models(tenant)
    apt = mdl.create_provider(m.mt, "provider-claude", {"baseUrl": mock.url, "apiKey": VENDOR_KEY,
                                                        "api": "anthropic-messages"}, enable_wuying_proxy=True)
    mdl.add_models(apt, [{"llm_code": "claude-mock", "name": "Claude mock",
                          "config": json.dumps({"cost": COST, "input": ["text"]})}])
    client = anthropic.Anthropic(base_url=server.url, api_key=m.key, max_retries=0)
    message = client.messages.create(model="claude-mock", max_tokens=32, extra_headers={"X-Run-Id": "whole"},
                                     messages=[{"role": "user", "content": "Hi"}])
    assert message.content[0].text == "Hello from the mock"
    with client.messages.stream(model="claude-mock", max_tokens=32, extra_headers={"X-Run-Id": "stream"},
                                messages=[{"role": "user", "content": "Hi"}]) as stream:
        text = "".join(stream.text_stream)
    assert text.startswith("word0"), text
    sent = mock.calls("claude-mock")[-1]
    assert sent["path"] == "/v1/messages" and sent["headers"]["x-api-key"] == VENDOR_KEY, sent
    runs = m.settled(2)
    assert Decimal(runs["TotalUsedTimeDecimal"]) == micro(ANTHROPIC_CALL) * 2, [(d["RunId"], d["Summary"]) for d in runs["Deductions"]]
    # The caller's dialect: an OpenAI-protocol model on /v1/messages, a bad key.
    wrong = requests.post(f"{server.url}/v1/messages", headers={"x-api-key": m.key},
                          json={"model": "mock-small", "max_tokens": 8, "messages": []}, timeout=10)
    assert wrong.status_code == 400 and wrong.json()["type"] == "error", wrong.text
    assert "/v1/chat/completions" in wrong.json()["error"]["message"]
    with pytest.raises(anthropic.AuthenticationError) as refused:
        anthropic.Anthropic(base_url=server.url, api_key="gk-nope.x", max_retries=0).messages.create(
            model="claude-mock", max_tokens=8, messages=[{"role": "user", "content": "Hi"}])
    assert refused.value.body["error"]["type"] == "authentication_error"
    listed = requests.get(f"{server.url}/v1/models", headers={"x-api-key": m.key, "anthropic-version": "2023-06-01"},
                          timeout=10).json()
    assert {d["id"] for d in listed["data"]} == {"mock-small", "claude-mock"}, listed


def test_models_keys_and_errors_in_openai_dialect(server, tenant, mock):
    m = Metered(server, tenant, mock, models=["mock-small", "mock-nousage"])
    client = m.openai()
    assert sorted(x.id for x in client.models.list()) == ["mock-nousage", "mock-small"]
    with pytest.raises(openai.NotFoundError) as missing:
        chat(client, model="gpt-nothing")
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.AuthenticationError) as bad:
        chat(openai.OpenAI(base_url=f"{server.url}/v1", api_key="sk-not-a-gateway-key", max_retries=0))
    assert bad.value.code == "invalid_api_key"
    # "default" is the group's default model; an answer without usage is estimated and marked.
    assert chat(client, model="default").model == "mock-small"
    chat(client, model="mock-nousage")
    runs = m.settled(2)
    estimated = [d for d in runs["Deductions"] if d["Model"].endswith("mock-nousage")]
    assert estimated and "estimated" in estimated[0]["Summary"], runs
    # A rotated key replaces the old one at once; a revoked one is refused within a second.
    old = m.key
    m.key = m.gateway_key()
    assert m.key != old
    chat(m.openai())
    wait_for(lambda: requests.post(f"{server.url}/v1/chat/completions", headers={"Authorization": f"Bearer {old}"},
                                   json={"model": "mock-small"}, timeout=10).status_code == 401, "old key refused")
    m.gateway_key("--revoke")
    wait_for(lambda: requests.post(f"{server.url}/v1/chat/completions", headers={"Authorization": f"Bearer {m.key}"},
                                   json={"model": "mock-small"}, timeout=10).status_code == 401, "revoked key refused")
    bad_body = requests.post(f"{server.url}/v1/chat/completions", headers={"Authorization": f"Bearer {old}"},
                             data=b"\xff\xfe not json", timeout=10)
    assert bad_body.status_code == 401 and bad_body.json()["error"]["code"] == "invalid_api_key"


def test_a_quota_holds_under_concurrent_calls(server, tenant, mock):
    # 5,000 credits per million tokens: 18 tokens cost 0.09 credits, a call reserves about 1.
    m = Metered(server, tenant, mock, cost={"input": 5000, "output": 5000}, models=["mock-hold"])
    m.set_quota(3)
    refused_before = len(mock.calls("mock-hold"))

    def call(_):
        try:
            chat(m.openai(), model="mock-hold")
            return 200
        except openai.RateLimitError as e:
            assert e.code == "credit_quota_exceeded", e.body
            assert "quota" in e.message
            return 429

    statuses = bursts(call)
    assert 429 in statuses and 200 in statuses, statuses
    served = len(mock.calls("mock-hold")) - refused_before
    wait_for(lambda: m.runs()["TotalCount"] >= served, "all served calls settled", timeout=15)
    used = Decimal(m.usage()["TotalUsed"])
    reservation = Decimal(len('{"messages":[{"role":"user","content":"Hello"}],"model":"mock-hold",'
                              '"max_tokens":16}') + 16) * 5000 / 1_000_000
    # No upstream call for a refused one, and at most one call's reservation over the quota.
    assert used == micro(Decimal(18 * 5000)) * served, (used, served)
    assert used <= 3 + reservation, used
    info = m.usage()
    assert info["PeriodTotalCredit"] == 3 and info["PeriodUsedCredit"] >= 2, info
    # Clearing the quota lets the agent draw on the packs again.
    m.set_quota(None)
    chat(m.openai(), model="mock-hold")
    agents = m.wss.describe_credit_package_agents(wss_models().DescribeCreditPackageAgentsRequest(
        agent_ids=[m.rid])).body.to_map()["Agents"]
    assert agents[0]["AgentId"] == m.rid and agents[0]["TotalCredit"] == 1000, agents


def test_a_quota_holds_across_two_replicas(server_factory, replica_of, mock):
    srv = server_factory()
    info = srv.create_tenant()
    api = srv.api((info["AccessKeyId"], info["AccessKeySecret"]))
    api.info = info
    other = replica_of(srv)
    m = Metered(srv, api, mock, cost={"input": 5000, "output": 5000}, models=["mock-hold"])
    m.set_quota(3)
    before = len(mock.calls("mock-hold"))

    def call(i):
        try:
            chat(m.openai(srv if i % 2 else other), model="mock-hold")
            return 200
        except openai.RateLimitError:
            return 429

    statuses = bursts(call)
    assert 429 in statuses, statuses
    served = len(mock.calls("mock-hold")) - before
    wait_for(lambda: m.runs()["TotalCount"] >= served, "both replicas settled", timeout=15)
    used = Decimal(m.usage()["TotalUsed"])
    assert used == micro(Decimal(18 * 5000)) * served
    assert used <= 3 + Decimal("1.2"), used


def test_exhausted_packs_refuse_before_going_upstream(server, tenant, mock):
    m = Metered(server, tenant, mock, cost={"input": 20000, "output": 20000}, models=["mock-pricey"], pack=None)
    client = m.openai()
    with pytest.raises(openai.RateLimitError) as none:
        chat(client, model="mock-pricey")
    assert none.value.code == "credits_exhausted" and "credit pack" in none.value.message
    assert not mock.calls("mock-pricey")
    m.add_pack(5)
    statuses = []
    for _ in range(20):
        try:
            chat(client, model="mock-pricey")
            statuses.append(200)
        except openai.RateLimitError:
            statuses.append(429)
            break
    assert statuses[-1] == 429 and statuses.count(200) >= 3, statuses
    # An expired pack is not drawn from; a later one is.
    m.add_pack(100, "--starts", "2020-01-01T00:00:00Z", "--expires", "2020-02-01T00:00:00Z")
    with pytest.raises(openai.RateLimitError):
        chat(client, model="mock-pricey")


def test_failures_fall_back_and_cost_nothing(server_factory, mock):
    srv = server_factory(args=("--gateway-upstream-timeout-secs", "1"))
    info = srv.create_tenant()
    api = srv.api((info["AccessKeyId"], info["AccessKeySecret"]))
    api.info = info
    group = {"defaults": {"model": {"primary": "provider-mock/mock-fail",
                                    "fallbacks": ["provider-mock/mock-slow", "provider-mock/mock-ok"]}}}
    m = Metered(srv, api, mock, models=["mock-fail", "mock-slow", "mock-ok", "mock-fail-alone"],
                group_config=group)
    client = m.openai()
    # The default fails (500), its first fallback times out, the second answers: one charge, its model.
    answer = chat(client, model="default")
    assert answer.model == "mock-ok"
    runs = m.settled(1)
    assert runs["TotalCount"] == 1 and runs["Deductions"][0]["Model"] == "provider-mock/mock-ok", runs
    # A model outside the fallback list does not fall back: 502 in OpenAI's words, nothing charged.
    with pytest.raises(openai.InternalServerError) as failed:
        chat(client, model="mock-fail-alone")
    assert failed.value.status_code == 502 and failed.value.code == "upstream_error"
    time.sleep(0.6)
    assert m.runs()["TotalCount"] == 1


def test_a_caller_gone_mid_stream_is_charged_for_what_was_produced(server, tenant, mock):
    m = Metered(server, tenant, mock, models=["mock-drip"])
    with requests.post(f"{server.url}/v1/chat/completions", headers={"Authorization": f"Bearer {m.key}"},
                       json={"model": "mock-drip", "stream": True, "messages": [{"role": "user", "content": "Hi"}]},
                       stream=True, timeout=10) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        lines = resp.iter_lines()
        got = [next(lines) for _ in range(6)]
        assert any(b"word0" in g for g in got), got
    runs = m.settled(1)
    row = runs["Deductions"][0]
    assert "estimated" in row["Summary"] and Decimal(row["UsedTimeDecimal"]) > 0, row
    out_tokens = int(row["Summary"].split(" and ")[1].split()[0])
    assert 0 < out_tokens < 40 * 2, row


def test_rate_limits_answer_429_with_retry_after(server, tenant, mock):
    m = Metered(server, tenant, mock)
    out = server.admin("rate-limit", "--runtime", m.rid, "--rpm", "3", *server.store_args())
    assert out.returncode == 0, out.stderr
    statuses = []
    for _ in range(8):
        r = requests.post(f"{server.url}/v1/chat/completions", headers={"Authorization": f"Bearer {m.key}"},
                          json={"model": "mock-small", "max_tokens": 4, "messages": []}, timeout=10)
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert r.json()["error"]["code"] == "rate_limit_exceeded"
            assert 1 <= int(r.headers["Retry-After"]) <= 60
            break
    # The limit is read within a second of being set; then at most 3 calls a minute pass.
    assert statuses[-1] == 429 and statuses.count(200) <= 4, statuses


def test_link_local_upstreams_are_refused(server, tenant, mock):
    m = Metered(server, tenant, mock, base_url="http://169.254.169.254/v1")
    with pytest.raises(openai.APIStatusError) as refused:
        chat(m.openai())
    assert refused.value.status_code == 502 and "may not reach" in refused.value.message
    assert m.runs()["TotalCount"] == 0


def test_credit_actions_validate_their_input(server, tenant, mock):
    m = Metered(server, tenant, mock)
    w, mm = m.wss, wss_models()
    expect_error(lambda: m.set_quota(10, ids=["ecd-notmine00000000"]), "InvalidAgentId.NotFound", 404)
    expect_error(lambda: m.set_quota(-1), "InvalidParameter", 400, names="CreditQuota")
    expect_error(lambda: w.set_agent_credit_quota(mm.SetAgentCreditQuotaRequest(credit_quota=1)),
                 "MissingParameter", 400, names="AgentIds")
    expect_error(lambda: w.describe_credit_usage_info(mm.DescribeCreditUsageInfoRequest(usage_type="Galaxy")),
                 "InvalidParameter", 400, names="UsageType")
    expect_error(lambda: w.describe_credit_usage_info(mm.DescribeCreditUsageInfoRequest(
        usage_type="CreditPackage", instance_ids=["cp-inst-nosuch"])), "InvalidInstanceId.NotFound", 404)
    expect_error(lambda: w.describe_credit_package_agents(mm.DescribeCreditPackageAgentsRequest(agent_type="ROBOT")),
                 "InvalidParameter", 400, names="AgentType")
    expect_error(lambda: w.describe_run_id_deductions(mm.DescribeRunIdDeductionsRequest(start_time=10, end_time=5)),
                 "InvalidParameter", 400, names="StartTime")
    expect_error(lambda: w.describe_package_deductions(mm.DescribePackageDeductionsRequest(
        instance_ids=[m.rid])), "MissingParameter", 400, names="PackageIds")
    # Another tenant sees none of it.
    other = server.create_tenant()
    theirs = wss(server, (other["AccessKeyId"], other["AccessKeySecret"]))
    expect_error(lambda: theirs.set_agent_credit_quota(mm.SetAgentCreditQuotaRequest(
        agent_ids=[m.rid], credit_quota=5)), "InvalidAgentId.NotFound", 404)
    chat(m.openai())
    m.settled(1)
    assert theirs.describe_run_id_deductions(mm.DescribeRunIdDeductionsRequest()).body.to_map()["TotalCount"] == 0
    # The reports of the period, the packs and the deductions per pack and agent.
    stats = w.describe_deduction_statistic(mm.DescribeDeductionStatisticRequest(
        periods=[mm.DescribeDeductionStatisticRequestPeriods(
            base_time=time.strftime("%Y-%m-01", time.gmtime()), period_unit="Month")])).body.to_map()["Data"]
    assert stats["Deductions"][-1]["ConsumeSecond"] == 1 and stats["Usages"][0]["ConsumeSecond"] == 1, stats
    assert stats["AvailableCorePackages"][0]["ResourceId"] == m.pack, stats
    per_pack = w.describe_package_deductions(mm.DescribePackageDeductionsRequest(
        package_ids=[m.pack])).body.to_map()
    assert per_pack["TotalCount"] == 1 and per_pack["Deductions"][0]["DesktopId"] == m.rid, per_pack
    assert Decimal(per_pack["TotalUsedTimeDecimal"]) == micro(OPENAI_CALL), per_pack


def test_vendor_keys_never_reach_hosts_or_logs(server_factory, mock, tmp_path, monkeypatch):
    # A secret goes in the environment, not on the command line.
    monkeypatch.setenv("AMC_CREDIT_UPSTREAM_KEY", CREDIT_KEY)
    srv = server_factory(args=("--credit-upstream-url", f"{mock.url}/v1"))
    info = srv.create_tenant()
    api = srv.api((info["AccessKeyId"], info["AccessKeySecret"]))
    api.info = info
    m = Metered(srv, api, mock)
    mdl = Models(api)
    credit = mdl.create_provider(m.mt, "wuying-credit", "{}", provider_type="WuyingCredit", enable_wuying_proxy=True)
    mdl.add_models(credit, [{"llm_code": "credit-model", "name": "Credit model",
                             "config": json.dumps({"cost": COST, "input": ["text"]})}])
    agent = Agent(srv.binary, tmp_path / "host", path_dirs=[node_bin(), openclaw_bin()])
    agent.enroll(srv.url, token_for(srv, m.rid))
    agent.start()
    config_path = agent.openclaw_json
    wait_for(lambda: config_path.exists() and "wuying-credit" in config_path.read_text(), "config delivered")
    text = config_path.read_text()
    assert VENDOR_KEY not in text and CREDIT_KEY not in text and mock.url not in text, text
    providers = load_json5(config_path)["models"]["providers"]
    for name in ("provider-mock", "wuying-credit"):
        assert providers[name]["baseUrl"] == f"{srv.url}/v1", providers[name]
        assert providers[name]["apiKey"].startswith("gk-"), name
    openclaw_validate(config_path)
    # The agent's own key works at the gateway: the WuyingCredit model goes to the credit upstream.
    client = openai.OpenAI(base_url=providers["wuying-credit"]["baseUrl"],
                           api_key=providers["wuying-credit"]["apiKey"], max_retries=0)
    assert chat(client, model="credit-model").model == "credit-model"
    assert mock.calls("credit-model")[-1]["headers"]["authorization"] == f"Bearer {CREDIT_KEY}"
    agent.kill()
    srv.stop()
    log = srv.log_text()
    for secret in (VENDOR_KEY, CREDIT_KEY, providers["wuying-credit"]["apiKey"].split(".")[1]):
        assert secret not in log
