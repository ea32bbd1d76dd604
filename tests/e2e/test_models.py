"""appstream-center 2021-09-01 model groups: model templates, provider templates, LLM templates, the
managed provider catalogue, secrets at rest and master key rotation."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest

from amc_e2e import IMG_UBUNTU, V_APPSTREAM, core_call, expect_error, expect_ok, raw_v3

PLANTED = "sk-planted-0123456789abcdef"
PLANTED_2 = "sk-planted-second-fedcba9876543210"


# --------------------------------------------------------------------------------------------------
# helpers


def _m():
    from alibabacloud_appstream_center20210901 import models as a

    return a


class Models:
    """Short SDK calls for the model-group actions of one principal."""

    def __init__(self, api):
        self.api = api
        self.c = api.appstream

    @staticmethod
    def body(resp) -> dict:
        body = resp.body.to_map()
        assert body.get("RequestId"), body
        return body

    # groups
    def create_group(self, name="group", provider="OpenClaw", biz_type=1, **kw) -> str:
        body = self.body(self.c.create_model_template(
            _m().CreateModelTemplateRequest(name=name, agent_provider=provider, biz_type=biz_type, **kw)))
        mt = body["Data"]["ModelTemplateId"]
        assert mt.startswith("mt-"), body
        return mt

    def groups_page(self, biz_type=1, **kw) -> dict:
        return self.body(self.c.list_model_templates(_m().ListModelTemplatesRequest(biz_type=biz_type, **kw)))

    def groups(self, **kw) -> list[dict]:
        return self.groups_page(**kw).get("Data") or []

    def group(self, mt: str, **kw) -> dict:
        found = [g for g in self.groups(model_template_id_list=[mt], **kw)]
        assert len(found) == 1, found
        return found[0]

    def update_group(self, mt: str, **kw) -> dict:
        return self.body(self.c.update_model_template(_m().UpdateModelTemplateRequest(model_template_id=mt, **kw)))

    def delete_group(self, mt: str) -> dict:
        return self.body(self.c.delete_model_template(_m().DeleteModelTemplateRequest(model_template_id=mt)))

    # providers
    def create_provider(self, mt: str, pname="deepseek", config=None, provider="OpenClaw", biz_type=1, **kw) -> str:
        if config is not None and not isinstance(config, str):
            config = json.dumps(config)
        body = self.body(self.c.create_model_provider_template(_m().CreateModelProviderTemplateRequest(
            model_template_id=mt, provider_name=pname, config=config, agent_provider=provider, biz_type=biz_type,
            **kw)))
        mpt = body["Data"]["ProviderTemplateId"]
        assert mpt.startswith("mpt-"), body
        return mpt

    def get_provider(self, mpt: str) -> dict:
        return self.body(self.c.get_model_provider_template(
            _m().GetModelProviderTemplateRequest(provider_template_id=mpt)))["Data"]

    def providers_page(self, provider="OpenClaw", biz_type=1, **kw) -> dict:
        return self.body(self.c.list_model_provider_templates(
            _m().ListModelProviderTemplatesRequest(agent_provider=provider, biz_type=biz_type, **kw)))

    def providers(self, **kw) -> list[dict]:
        return self.providers_page(**kw).get("Data") or []

    def update_provider(self, mpt: str, config: dict | None = None, **kw) -> dict:
        a = _m()
        cfg = a.UpdateModelProviderTemplateRequestConfig(**config) if config else None
        return self.body(self.c.update_model_provider_template(
            a.UpdateModelProviderTemplateRequest(provider_template_id=mpt, config=cfg, **kw)))

    def delete_provider(self, mpt: str) -> dict:
        return self.body(self.c.delete_model_provider_template(
            _m().DeleteModelProviderTemplateRequest(provider_template_id=mpt)))

    # models
    def add_models(self, mpt: str, items: list[dict], mt: str | None = None) -> dict:
        a = _m()
        objs = [a.BatchCreateLlmTemplatesRequestLlmTemplateItems(**i) for i in items] if items else None
        return self.body(self.c.batch_create_llm_templates(a.BatchCreateLlmTemplatesRequest(
            provider_template_id=mpt, model_template_id=mt, llm_template_items=objs)))["Data"]

    def models_page(self, **kw) -> dict:
        return self.body(self.c.list_llm_templates(_m().ListLlmTemplatesRequest(**kw)))

    def models(self, **kw) -> list[dict]:
        kw.setdefault("page_size", 100)
        return self.models_page(**kw).get("Data") or []

    def delete_model(self, llmt: str) -> dict:
        return self.body(self.c.delete_llm_template(_m().DeleteLlmTemplateRequest(llm_template_id=llmt)))

    def endpoints(self, **kw) -> list[dict]:
        return self.body(self.c.list_model_provider_endpoints(
            _m().ListModelProviderEndpointsRequest(**kw))).get("Data") or []


@pytest.fixture
def mdl(tenant) -> Models:
    return Models(tenant)


def primary(group: dict) -> str | None:
    return json.loads(group["Config"]).get("defaults", {}).get("model", {}).get("primary")


def db_rows(server, sql: str) -> list[tuple]:
    """Runs SQL straight on the server's store (for state no action exposes: generations, secrets at rest)."""
    if server.database_url:
        out = subprocess.run(["psql", server.database_url, "-At", "-F", "\t", "-c", sql], capture_output=True,
                             text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert out.returncode == 0, out.stderr
        return [tuple(line.split("\t")) for line in out.stdout.splitlines() if line]
    con = sqlite3.connect(server.data_dir / "amc.db", timeout=30)
    try:
        rows = [tuple(str(c) for c in r) for r in con.execute(sql).fetchall()]
        con.commit()
        return rows
    finally:
        con.close()


# --------------------------------------------------------------------------------------------------
# the catalogue


def test_provider_endpoint_catalogue(mdl):
    everything = mdl.endpoints()
    names = {p["ProviderName"] for p in everything}
    for vendor in ("bailian", "deepseek", "moonshot", "zhipu", "minimax", "siliconflow", "openai", "anthropic",
                   "openrouter", "volcengine", "hunyuan", "gemini"):
        assert vendor in names, names
    for p in everything:
        assert p["ProviderUrl"].startswith("https://"), p
        assert p["Description"], p
        assert p["Endpoints"], p
        for e in p["Endpoints"]:
            assert e["BaseUrl"].startswith("https://"), e
            assert e["ApiType"] in ("openai-completions", "openai-responses", "anthropic-messages",
                                    "google-generative-ai"), e
            assert e["Name"] and isinstance(e["Tags"], list) and e["Tags"], e
    bailian = mdl.endpoints(provider_name="bailian")
    assert [p["ProviderName"] for p in bailian] == ["bailian"]
    assert "https://dashscope.aliyuncs.com/compatible-mode/v1" in {e["BaseUrl"] for e in bailian[0]["Endpoints"]}
    assert mdl.endpoints(provider_name="nobody-knows") == []
    # agents see the names they use
    assert "zai" in {p["ProviderName"] for p in mdl.endpoints(agent_provider="OpenClaw")}
    assert "kimi-coding" in {p["ProviderName"] for p in mdl.endpoints(agent_provider="HermesAgent")}
    assert [p["ProviderName"] for p in mdl.endpoints(provider_name="zai", agent_provider="OpenClaw")] == ["zai"]


# --------------------------------------------------------------------------------------------------
# model groups


def test_group_create_list_update_delete(mdl):
    mt = mdl.create_group(name="sales team models", description="for sales")
    g = mdl.group(mt)
    assert g["Name"] == "sales team models" and g["Description"] == "for sales", g
    assert g["AgentProvider"] == "OpenClaw" and g["AgentPlatform"] == "ENTERPRISE", g
    assert g["RefScope"] == "RESOURCE_MIXED", g
    assert g["HasModel"] is False and g["ModelCount"] == 0, g
    assert json.loads(g["Config"]) == {}, g

    mdl.update_group(mt, name="renamed", description="")
    g = mdl.group(mt)
    assert (g["Name"], g["Description"]) == ("renamed", ""), g

    mdl.delete_group(mt)
    assert mdl.groups(model_template_id_list=[mt]) == []
    expect_error(lambda: mdl.delete_group(mt), "InvalidModelTemplateId.NotFound", 404, names=mt)
    expect_error(lambda: mdl.update_group(mt, name="x"), "InvalidModelTemplateId.NotFound", 404)


def test_group_list_filters_and_paging(mdl):
    a = mdl.create_group(name="Alpha models")
    b = mdl.create_group(name="beta models")
    h = mdl.create_group(name="hermes models", provider="HermesAgent")
    c = mdl.create_group(name="common models", agent_platform="COMMON", ref_scope="ALL_USER")
    other_biz = mdl.create_group(name="biz two", biz_type=2)

    ids = {g["ModelTemplateId"] for g in mdl.groups(page_size=100)}
    assert ids == {a, b, h}, "ENTERPRISE groups of BizType 1 only by default"
    assert {g["ModelTemplateId"] for g in mdl.groups(biz_type=2)} == {other_biz}
    assert {g["ModelTemplateId"] for g in mdl.groups(agent_provider="OpenClaw")} == {a, b}
    assert {g["ModelTemplateId"] for g in mdl.groups(agent_provider_list=["HermesAgent"])} == {h}
    common = mdl.groups(agent_platform_list=["COMMON", "ENTERPRISE"])
    assert {g["ModelTemplateId"] for g in common} == {a, b, h, c}
    cg = [g for g in common if g["ModelTemplateId"] == c][0]
    assert cg["RefScope"] == "ALL_USER" and cg["AgentPlatform"] == "COMMON", cg
    assert {g["ModelTemplateId"] for g in mdl.groups(agent_platform="COMMON", ref_scope="ALL_USER")} == {c}
    assert {g["ModelTemplateId"] for g in mdl.groups(name="MODELS")} == {a, b, h}
    assert {g["ModelTemplateId"] for g in mdl.groups(name="alpha")} == {a}
    assert mdl.groups(name="%") == []
    assert mdl.groups(source="System") == []
    assert {g["ModelTemplateId"] for g in mdl.groups(model_template_id_list=[a, h])} == {a, h}
    assert mdl.groups(has_model=True) == []
    assert len(mdl.groups(has_model=False)) == 3

    page1 = mdl.groups_page(page_size=2, page_number=1)
    page2 = mdl.groups_page(page_size=2, page_number=2)
    assert page1["TotalCount"] == 3 and page1["PageSize"] == 2 and page1["PageNumber"] == 1, page1
    assert len(page1["Data"]) == 2 and len(page2["Data"]) == 1
    assert {g["ModelTemplateId"] for g in page1["Data"] + page2["Data"]} == {a, b, h}

    expect_error(lambda: mdl.groups(ref_scope="all_user"), "InvalidParameter", 400, names="RefScope")
    expect_error(lambda: mdl.groups(source="Nobody"), "InvalidParameter", 400, names="Source")
    expect_error(lambda: mdl.groups(page_size=101), "InvalidParameter", 400, names="PageSize")


def test_group_validation(mdl):
    a = _m()
    expect_error(lambda: mdl.c.create_model_template(a.CreateModelTemplateRequest(agent_provider="OpenClaw",
                                                                                    biz_type=1)),
                 "MissingParameter", 400, names="Name")
    expect_error(lambda: mdl.c.create_model_template(a.CreateModelTemplateRequest(name="x", biz_type=1)),
                 "MissingParameter", 400, names="AgentProvider")
    expect_error(lambda: mdl.c.create_model_template(a.CreateModelTemplateRequest(name="x", agent_provider="OpenClaw")),
                 "MissingParameter", 400, names="BizType")
    expect_error(lambda: mdl.create_group(name="x" * 129), "InvalidParameter", 400, names="Name")
    expect_error(lambda: mdl.create_group(agent_platform="COMMON", ref_scope="EVERYONE"), "InvalidParameter", 400,
                 names="RefScope")
    expect_error(lambda: mdl.c.list_model_templates(a.ListModelTemplatesRequest()), "MissingParameter", 400,
                 names="BizType")

    mt = mdl.create_group()
    for bad in ("not json", "[1,2]", '{"defaults":{"model":{"primary":"no-slash"}}}',
                '{"defaults":{"model":{"primary":42}}}'):
        expect_error(lambda bad=bad: mdl.update_group(mt, config=bad), "InvalidParameter", 400, names="Config")
    # a default must be a model of the group
    expect_error(lambda: mdl.update_group(mt, config='{"defaults":{"model":{"primary":"bailian/qwen-max"}}}'),
                 "InvalidParameter", 400, names="Config")
    expect_error(lambda: mdl.update_group(mt, ref_scope="ALL_USER"), "InvalidParameter", 400, names="RefScope")
    expect_error(lambda: mdl.update_group("mt-doesnotexist0000"), "InvalidModelTemplateId.NotFound", 404)
    expect_error(lambda: mdl.c.update_model_template(a.UpdateModelTemplateRequest(name="x")), "MissingParameter",
                 400, names="ModelTemplateId")
    # a valid config is kept as given
    mdl.update_group(mt, config='{"agents":{"x":1}}')
    assert json.loads(mdl.group(mt)["Config"]) == {"agents": {"x": 1}}


# --------------------------------------------------------------------------------------------------
# provider templates


def test_issue_11_enum_and_numeric_parameters_take_only_documented_values(mdl):
    """Issue 11 (validation gaps): CreateModelTemplate accepted AgentProvider=Nope and BizType=-1."""
    a = _m()
    expect_error(lambda: mdl.create_group(provider="Nope"), "InvalidParameter", 400, names="AgentProvider")
    for bad in (-1, 0, 2**31):
        expect_error(lambda bad=bad: mdl.create_group(biz_type=bad), "InvalidParameter", 400, names="BizType")
    expect_error(lambda: mdl.create_group(agent_platform="MOBILE"), "InvalidParameter", 400, names="AgentPlatform")
    expect_error(lambda: mdl.create_group(agent_platform="enterprise"), "InvalidParameter", 400,
                 names="AgentPlatform")
    assert mdl.groups() == []
    for provider in ("OpenClaw", "HermesAgent", "AgenticComputer", "Common"):
        mdl.create_group(name=f"for {provider}", provider=provider, biz_type=2**31 - 1)

    expect_error(lambda: mdl.groups(biz_type=-1), "InvalidParameter", 400, names="BizType")
    expect_error(lambda: mdl.groups(agent_provider="Nope"), "InvalidParameter", 400, names="AgentProvider")
    expect_error(lambda: mdl.groups(agent_provider_list=["OpenClaw", "Nope"]), "InvalidParameter", 400,
                 names="AgentProviderList.2")
    expect_error(lambda: mdl.groups(agent_platform_list=["COMMON", "MOBILE"]), "InvalidParameter", 400,
                 names="AgentPlatformList.2")

    mt = mdl.create_group(name="providers")
    expect_error(lambda: mdl.create_provider(mt, "moonshot", {"apiKey": "k"}, biz_type=-1), "InvalidParameter", 400,
                 names="BizType")
    expect_error(lambda: mdl.create_provider(mt, "moonshot", {"apiKey": "k"}, provider="Nope"), "InvalidParameter",
                 400, names="AgentProvider")
    expect_error(lambda: mdl.create_provider(mt, "moonshot", {"apiKey": "k"}, agent_platform="MOBILE"),
                 "InvalidParameter", 400, names="AgentPlatform")
    expect_error(lambda: mdl.providers(provider="Nope"), "InvalidParameter", 400, names="AgentProvider")
    expect_error(lambda: mdl.providers(biz_type=0), "InvalidParameter", 400, names="BizType")
    expect_error(lambda: mdl.endpoints(agent_provider="Nope"), "InvalidParameter", 400, names="AgentProvider")
    expect_error(lambda: mdl.endpoints(biz_type=-5), "InvalidParameter", 400, names="BizType")
    expect_error(lambda: mdl.endpoints(agent_platform="MOBILE"), "InvalidParameter", 400, names="AgentPlatform")
    expect_error(lambda: mdl.models(biz_type=-1), "InvalidParameter", 400, names="BizType")
    assert mdl.providers() == []


def test_provider_types(mdl):
    mt = mdl.create_group()
    managed = mdl.create_provider(mt, "deepseek", {"apiKey": "sk-managed-000011112222"}, provider_type="Managed",
                                  name="DeepSeek")
    p = mdl.get_provider(managed)
    assert p["ProviderName"] == "deepseek" and p["Name"] == "DeepSeek" and p["ProviderTemplateId"] == managed, p
    assert json.loads(p["Config"]) == {"api": "openai-completions", "apiKey": "sk-m****2222",
                                       "baseUrl": "https://api.deepseek.com/v1"}, p
    assert p["EnableWuyingProxy"] is False, p

    custom = mdl.create_provider(mt, "provider-local", {"baseUrl": "http://10.1.2.3:8000/v1",
                                                        "api": "anthropic-messages"})
    cfg = json.loads(mdl.get_provider(custom)["Config"])
    assert cfg == {"api": "anthropic-messages", "baseUrl": "http://10.1.2.3:8000/v1"}, cfg

    credit = mdl.create_provider(mt, "wuying-credit", "{}", provider_type="WuyingCredit", enable_wuying_proxy=True)
    c = [p for p in mdl.providers(model_template_id=mt) if p["ProviderTemplateId"] == credit][0]
    assert c["ProviderType"] == "WuyingCredit" and c["EnableWuyingProxy"] is True, c

    types = {p["ProviderTemplateId"]: p["ProviderType"] for p in mdl.providers(model_template_id=mt)}
    assert types == {managed: "Managed", custom: "Custom", credit: "WuyingCredit"}

    # duplicates and type rules
    expect_error(lambda: mdl.create_provider(mt, "deepseek", {"apiKey": "sk-other-key-123456"}),
                 "ProviderName.AlreadyExists", 400, names="deepseek")
    expect_error(lambda: mdl.create_provider(mt, "wuying-credit", "{}", provider_type="WuyingCredit",
                                             enable_wuying_proxy=False),
                 "InvalidParameter", 400, names="EnableWuyingProxy")
    expect_error(lambda: mdl.create_provider(mt, "bailian", "{}", provider_type="WuyingCredit"),
                 "InvalidParameter", 400, names="ProviderName")
    expect_error(lambda: mdl.create_provider(mt, "my-endpoint", {"baseUrl": "https://x.example/v1"},
                                             provider_type="Custom"),
                 "InvalidParameter", 400, names="ProviderName")
    expect_error(lambda: mdl.create_provider(mt, "nobody", {"apiKey": "k"}), "InvalidParameter", 400,
                 names="ProviderName")
    expect_error(lambda: mdl.create_provider(mt, "provider-x", {"baseUrl": "ftp://x"}), "InvalidParameter", 400,
                 names="Config.baseUrl")
    expect_error(lambda: mdl.create_provider(mt, "provider-x", {"api": "openai-completions"}), "MissingParameter",
                 400, names="Config.baseUrl")
    expect_error(lambda: mdl.create_provider(mt, "provider-x", {"baseUrl": "https://x.example", "api": "soap"}),
                 "InvalidParameter", 400, names="Config.api")
    expect_error(lambda: mdl.create_provider(mt, "moonshot", {}), "MissingParameter", 400, names="Config.apiKey")
    expect_error(lambda: mdl.create_provider(mt, "moonshot", "not json"), "InvalidParameter", 400, names="Config")
    expect_error(lambda: mdl.create_provider(mt, "moonshot", {"apiKey": "k"}, provider_type="Other"),
                 "InvalidParameter", 400, names="ProviderType")
    expect_error(lambda: mdl.create_provider(mt, "moonshot", {"apiKey": "k"}, provider="HermesAgent"),
                 "InvalidParameter", 400, names="AgentProvider")
    expect_error(lambda: mdl.create_provider(mt, "moonshot", {"apiKey": "k"}, biz_type=7),
                 "InvalidParameter", 400, names="BizType")
    expect_error(lambda: mdl.create_provider("mt-doesnotexist0000", "moonshot", {"apiKey": "k"}),
                 "InvalidModelTemplateId.NotFound", 404)
    a = _m()
    expect_error(lambda: mdl.c.create_model_provider_template(a.CreateModelProviderTemplateRequest(
        model_template_id=mt, provider_name="moonshot", agent_provider="OpenClaw", biz_type=1)),
        "MissingParameter", 400, names="Config")
    expect_error(lambda: mdl.c.create_model_provider_template(a.CreateModelProviderTemplateRequest(
        model_template_id=mt, config="{}", agent_provider="OpenClaw", biz_type=1)),
        "MissingParameter", 400, names="ProviderName")
    # the same name in another group is fine
    mt2 = mdl.create_group(name="other")
    mdl.create_provider(mt2, "deepseek", {"apiKey": "sk-managed-000011112222"})


def test_provider_get_list_update(mdl):
    mt = mdl.create_group()
    other = mdl.create_group(name="other")
    p1 = mdl.create_provider(mt, "bailian", {"apiKey": "sk-bailian-aaaa1111bbbb2222"}, description="first")
    p2 = mdl.create_provider(mt, "provider-gw", {"baseUrl": "https://gw.example.com/v1", "apiKey": "short"})
    p3 = mdl.create_provider(other, "bailian", {"apiKey": "sk-bailian-cccc3333dddd4444"})

    page = mdl.providers_page(model_template_id=mt)
    assert page["TotalCount"] == 2 and page["PageNumber"] == 1, page
    assert {p["ProviderTemplateId"] for p in page["Data"]} == {p1, p2}
    assert {p["ProviderTemplateId"] for p in mdl.providers(provider_name="bailian")} == {p1, p3}
    assert {p["ProviderTemplateId"] for p in mdl.providers(provider_template_ids=[p2, p3])} == {p2, p3}
    assert mdl.providers(provider="HermesAgent") == []
    assert mdl.providers(biz_type=2) == []
    assert len(mdl.providers_page(page_size=1)["Data"]) == 1
    short = [p for p in page["Data"] if p["ProviderTemplateId"] == p2][0]
    assert json.loads(short["Config"])["apiKey"] == "******", short
    a = _m()
    expect_error(lambda: mdl.c.list_model_provider_templates(a.ListModelProviderTemplatesRequest(biz_type=1)),
                 "MissingParameter", 400, names="AgentProvider")
    expect_error(lambda: mdl.c.list_model_provider_templates(a.ListModelProviderTemplatesRequest(
        agent_provider="OpenClaw")), "MissingParameter", 400, names="BizType")

    # update: PascalCase config in the query, the rest in the body
    mdl.update_provider(p1, name="Bailian main", description="changed", enable_wuying_proxy=True,
                        config={"api_key": "sk-rotated-9999888877776666",
                                "base_url": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"})
    p = mdl.get_provider(p1)
    assert p["Name"] == "Bailian main" and p["Description"] == "changed" and p["EnableWuyingProxy"] is True, p
    cfg = json.loads(p["Config"])
    assert cfg == {"api": "openai-completions", "apiKey": "sk-r****6666",
                   "baseUrl": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"}, cfg
    # sending back the masked key keeps the key; only the protocol changes
    mdl.update_provider(p1, config={"api_key": "sk-r****6666", "api_type": "anthropic-messages"})
    cfg = json.loads(mdl.get_provider(p1)["Config"])
    assert cfg["apiKey"] == "sk-r****6666" and cfg["api"] == "anthropic-messages", cfg
    # a name-only update keeps the connection
    mdl.update_provider(p1, name="again")
    assert json.loads(mdl.get_provider(p1)["Config"]) == cfg

    expect_error(lambda: mdl.update_provider(p1, config={"base_url": "not a url"}), "InvalidParameter", 400,
                 names="Config.BaseUrl")
    expect_error(lambda: mdl.update_provider(p1, config={"api_type": "soap"}), "InvalidParameter", 400,
                 names="Config.ApiType")
    expect_error(lambda: mdl.update_provider("mpt-doesnotexist000"), "InvalidProviderTemplateId.NotFound", 404)
    expect_error(lambda: mdl.get_provider("mpt-doesnotexist000"), "InvalidProviderTemplateId.NotFound", 404)
    expect_error(lambda: mdl.c.get_model_provider_template(a.GetModelProviderTemplateRequest()),
                 "MissingParameter", 400, names="ProviderTemplateId")


# --------------------------------------------------------------------------------------------------
# LLM templates


QWEN_CONFIG = {"id": "qwen3.6-plus", "name": "Qwen3.6-Plus", "input": ["text", "image"],
               "cost": {"input": 0.8, "output": 4.8, "cacheRead": 0.16, "cacheWrite": 0},
               "contextWindow": 131072, "maxTokens": 16384, "features": ["function-calling"],
               "creditMultiplier": {"min": 1, "max": 2.5}}


def test_llm_templates_batch_and_list(mdl):
    mt = mdl.create_group()
    mpt = mdl.create_provider(mt, "bailian", {"apiKey": "sk-bailian-aaaa1111bbbb2222"})
    out = mdl.add_models(mpt, [
        {"llm_code": "qwen3.6-plus", "name": "Qwen3.6-Plus", "config": json.dumps(QWEN_CONFIG),
         "is_default_model": True, "description": "flagship"},
        {"llm_code": "qwen-turbo"},
        {"llm_code": "qwen-turbo"},
    ], mt=mt)
    assert out["TotalCount"] == 3 and out["SuccessCount"] == 2, out
    assert len(out["LlmTemplateIds"]) == 2 and all(i.startswith("llmt-") for i in out["LlmTemplateIds"]), out
    assert [s["LlmCode"] for s in out["SkippedItems"]] == ["qwen-turbo"], out
    g = mdl.group(mt)
    assert g["HasModel"] is True and g["ModelCount"] == 2, g
    assert primary(g) == "bailian/qwen3.6-plus", g

    again = mdl.add_models(mpt, [{"llm_code": "qwen3.6-plus"}, {"llm_code": "qwen-max"}])
    assert again["SuccessCount"] == 1 and again["TotalCount"] == 2, again
    assert again["SkippedItems"] == [{"LlmCode": "qwen3.6-plus", "Reason":
                                      "LLM template already exists with same providerTemplateId and llmCode."}]

    rows = {m["LlmCode"]: m for m in mdl.models(model_template_id=mt)}
    assert set(rows) == {"qwen3.6-plus", "qwen-turbo", "qwen-max"}
    q = rows["qwen3.6-plus"]
    assert q["Name"] == "Qwen3.6-Plus" and q["Description"] == "flagship" and q["IsDefaultModel"] is True, q
    assert q["ProviderTemplateId"] == mpt, q
    assert json.loads(q["Config"]) == QWEN_CONFIG, q
    assert q["Prices"] == [{"RangeName": "Default", "Prices": [
        {"PriceName": "Input", "Price": "0.8", "PriceUnit": "per 1M tokens"},
        {"PriceName": "Output", "Price": "4.8", "PriceUnit": "per 1M tokens"},
        {"PriceName": "CacheRead", "Price": "0.16", "PriceUnit": "per 1M tokens"},
        {"PriceName": "CacheWrite", "Price": "0", "PriceUnit": "per 1M tokens"}]}], q
    assert q["CreditMultiplier"] == {"Min": 1.0, "Max": 2.5}, q
    assert q["InferenceMetadata"] == {"RequestModality": ["Text", "Image"], "ResponseModality": ["Text"]}, q
    assert q["ModelInfo"] == {"contextWindow": 131072, "maxTokens": 16384}, q
    assert q["Features"] == ["function-calling"], q
    t = rows["qwen-turbo"]
    assert t["Name"] == "qwen-turbo" and t["IsDefaultModel"] is False and t["Prices"] == [], t
    assert t.get("CreditMultiplier") is None, t

    # filters and paging
    assert {m["LlmCode"] for m in mdl.models(llm_code="TURBO")} == {"qwen-turbo"}
    assert {m["LlmCode"] for m in mdl.models(provider_template_id=mpt, llm_code="qwen")} == set(rows)
    ids = [rows["qwen-max"]["LlmTemplateId"], rows["qwen-turbo"]["LlmTemplateId"]]
    assert {m["LlmTemplateId"] for m in mdl.models(llm_template_ids=ids)} == set(ids)
    page = mdl.models_page(model_template_id=mt, page_size=2, page_number=2)
    assert page["TotalCount"] == 3 and len(page["Data"]) == 1 and page["PageNumber"] == 2, page
    assert mdl.models(smart_model=True, biz_type=1) == []
    expect_error(lambda: mdl.models(smart_model=True), "MissingParameter", 400, names="BizType")

    # a new default takes the flag and the group Config follows
    mdl.add_models(mpt, [{"llm_code": "qwen-long", "is_default_model": True}])
    defaults = [m["LlmCode"] for m in mdl.models(model_template_id=mt) if m["IsDefaultModel"]]
    assert defaults == ["qwen-long"]
    assert primary(mdl.group(mt)) == "bailian/qwen-long"


def test_llm_template_validation(mdl):
    mt = mdl.create_group()
    mpt = mdl.create_provider(mt, "bailian", {"apiKey": "sk-bailian-aaaa1111bbbb2222"})
    other = mdl.create_group(name="other")
    a = _m()
    expect_error(lambda: mdl.add_models(mpt, []), "MissingParameter", 400, names="LlmTemplateItems")
    expect_error(lambda: mdl.add_models(mpt, [{"llm_code": "a"}, {"name": "no code"}]), "MissingParameter", 400,
                 names="LlmTemplateItems.2.LlmCode")
    expect_error(lambda: mdl.add_models(mpt, [{"llm_code": "has space"}]), "InvalidParameter", 400,
                 names="LlmTemplateItems.1.LlmCode")
    expect_error(lambda: mdl.add_models(mpt, [{"llm_code": "a", "config": "{oops"}]), "InvalidParameter", 400,
                 names="LlmTemplateItems.1.Config")
    expect_error(lambda: mdl.add_models(mpt, [{"llm_code": "a", "config": '{"cost":{"input":-1}}'}]),
                 "InvalidParameter", 400, names="LlmTemplateItems.1.Config")
    expect_error(lambda: mdl.add_models(mpt, [{"llm_code": "a", "is_default_model": True},
                                              {"llm_code": "b", "is_default_model": True}]),
                 "InvalidParameter", 400, names="LlmTemplateItems")
    expect_error(lambda: mdl.add_models(mpt, [{"llm_code": "a"}], mt=other), "InvalidParameter", 400,
                 names="ModelTemplateId")
    expect_error(lambda: mdl.add_models("mpt-doesnotexist000", [{"llm_code": "a"}]),
                 "InvalidProviderTemplateId.NotFound", 404)
    expect_error(lambda: mdl.c.batch_create_llm_templates(a.BatchCreateLlmTemplatesRequest(
        llm_template_items=[a.BatchCreateLlmTemplatesRequestLlmTemplateItems(llm_code="a")])),
        "MissingParameter", 400, names="ProviderTemplateId")
    expect_error(lambda: mdl.add_models(mpt, [{"llm_code": f"m{i}"} for i in range(101)]), "InvalidParameter", 400,
                 names="LlmTemplateItems")
    # nothing of the refused batches was written
    assert mdl.models(model_template_id=mt) == []
    expect_error(lambda: mdl.delete_model("llmt-doesnotexist00"), "InvalidLlmTemplateId.NotFound", 404)


def test_group_config_and_default_model_stay_consistent(mdl):
    mt = mdl.create_group()
    p1 = mdl.create_provider(mt, "bailian", {"apiKey": "sk-bailian-aaaa1111bbbb2222"})
    p2 = mdl.create_provider(mt, "siliconflow", {"apiKey": "sk-silicon-aaaa1111bbbb2222"})
    mdl.add_models(p1, [{"llm_code": "qwen-max", "is_default_model": True}])
    mdl.add_models(p2, [{"llm_code": "deepseek-ai/DeepSeek-V3"}])
    assert primary(mdl.group(mt)) == "bailian/qwen-max"

    mdl.update_group(mt, config=json.dumps({"defaults": {"model": {"primary": "siliconflow/deepseek-ai/DeepSeek-V3"}},
                                            "extra": True}))
    flags = {m["LlmCode"]: m["IsDefaultModel"] for m in mdl.models(model_template_id=mt)}
    assert flags == {"qwen-max": False, "deepseek-ai/DeepSeek-V3": True}
    g = mdl.group(mt)
    assert primary(g) == "siliconflow/deepseek-ai/DeepSeek-V3" and json.loads(g["Config"])["extra"] is True

    # a Config without a default leaves the group without one
    mdl.update_group(mt, config="{}")
    assert not any(m["IsDefaultModel"] for m in mdl.models(model_template_id=mt))
    assert primary(mdl.group(mt)) is None

    # deleting the default model clears the Config's default
    mdl.update_group(mt, config='{"defaults":{"model":{"primary":"bailian/qwen-max"}}}')
    qwen = [m for m in mdl.models(model_template_id=mt) if m["LlmCode"] == "qwen-max"][0]
    assert qwen["IsDefaultModel"] is True
    mdl.delete_model(qwen["LlmTemplateId"])
    assert primary(mdl.group(mt)) is None
    assert {m["LlmCode"] for m in mdl.models(model_template_id=mt)} == {"deepseek-ai/DeepSeek-V3"}


def test_deleting_what_is_in_use(mdl):
    mt = mdl.create_group()
    mpt = mdl.create_provider(mt, "bailian", {"apiKey": "sk-bailian-aaaa1111bbbb2222"})
    created = mdl.add_models(mpt, [{"llm_code": "qwen-max"}, {"llm_code": "qwen-plus"}, {"llm_code": "qwen-turbo"}])
    expect_error(lambda: mdl.delete_provider(mpt), "DependencyViolation.LlmTemplates", 400, names="3 model")
    expect_error(lambda: mdl.delete_group(mt), "DependencyViolation.ProviderTemplates", 400, names=mt)
    for llmt in created["LlmTemplateIds"]:
        mdl.delete_model(llmt)
    expect_error(lambda: mdl.delete_model(created["LlmTemplateIds"][0]), "InvalidLlmTemplateId.NotFound", 404)
    mdl.delete_provider(mpt)
    expect_error(lambda: mdl.get_provider(mpt), "InvalidProviderTemplateId.NotFound", 404)
    mdl.delete_group(mt)
    assert mdl.groups(model_template_id_list=[mt]) == []


def test_changes_bump_the_generation_of_runtimes_using_the_group(tenant, mdl):
    server = tenant.server
    rg_direct, rg_bound, rg_other = (tenant.create_group(n) for n in ("mg-direct", "mg-bound", "mg-other"))
    direct = tenant.create(image=IMG_UBUNTU, name="mg-direct", rg=rg_direct)[0]
    inherited = tenant.create(image=IMG_UBUNTU, name="mg-inherit", rg=rg_bound)[0]
    bystander = tenant.create(image=IMG_UBUNTU, name="mg-other", rg=rg_other)[0]
    mt = mdl.create_group()
    a = _m()
    assigned = mdl.body(mdl.c.config_runtime_model_template(a.ConfigRuntimeModelTemplateRequest(
        model_template_id=mt, runtime_ids=[direct], runtime_type="CloudDesktop")))
    assert [d["Success"] for d in assigned["Data"]] == [True], assigned
    mdl.body(mdl.c.config_resource_group_model_template(a.ConfigResourceGroupModelTemplateRequest(
        model_template_id=mt, resource_group_id=rg_bound)))

    def generations():
        rows = db_rows(server, f"SELECT id, generation FROM runtimes WHERE id IN ('{direct}', '{inherited}', "
                               f"'{bystander}')")
        return {r[0]: int(r[1]) for r in rows}

    before = generations()
    mpt = mdl.create_provider(mt, "bailian", {"apiKey": "sk-bailian-aaaa1111bbbb2222"})
    mdl.update_provider(mpt, config={"api_key": "sk-new-key-000011112222"})
    llmt = mdl.add_models(mpt, [{"llm_code": "qwen-max", "is_default_model": True}])["LlmTemplateIds"][0]
    mdl.update_group(mt, config="{}")
    mdl.delete_model(llmt)
    mdl.delete_provider(mpt)
    after = generations()
    assert after[direct] == before[direct] + 6, (before, after)
    assert after[inherited] == before[inherited] + 6, (before, after)
    assert after[bystander] == before[bystander], (before, after)
    # ListDesktopAgentRuntime shows the direct assignment
    row = tenant.runtimes(desktop_ids=[direct])[0]
    assert row["ModelTemplateId"] == mt and row["ModelConfigure"] is True, row
    row = tenant.runtimes(desktop_ids=[inherited])[0]
    assert row["ModelTemplateId"] == mt and row["ModelConfigure"] is True, row

    # a group still delivered is not deleted
    expect_error(lambda: mdl.delete_group(mt), "DependencyViolation.Runtimes", 400, names="1 runtime")
    removed = mdl.body(mdl.c.remove_runtime_model_template(a.RemoveRuntimeModelTemplateRequest(
        model_template_id=mt, runtime_ids=[direct], runtime_type="CloudDesktop")))
    assert [d["Success"] for d in removed["Data"]] == [True], removed
    expect_error(lambda: mdl.delete_group(mt), "DependencyViolation.ResourceGroups", 400, names="1 resource group")
    unbound = mdl.body(mdl.c.remove_resource_group_model_template(a.RemoveResourceGroupModelTemplateRequest(
        model_template_id=mt, resource_group_ids=[rg_bound])))
    assert [d["Success"] for d in unbound["Data"]] == [True], unbound
    mdl.delete_group(mt)


# --------------------------------------------------------------------------------------------------
# tenants, restarts, secrets


def test_tenants_do_not_see_each_other_s_model_groups(server):
    a_info, b_info = server.create_tenant(), server.create_tenant()
    a = Models(server.api((a_info["AccessKeyId"], a_info["AccessKeySecret"])))
    b = Models(server.api((b_info["AccessKeyId"], b_info["AccessKeySecret"])))
    mt = a.create_group(name="tenant a group")
    mpt = a.create_provider(mt, "bailian", {"apiKey": "sk-tenant-a-000011112222"})
    llmt = a.add_models(mpt, [{"llm_code": "qwen-max"}])["LlmTemplateIds"][0]

    assert b.groups() == [] and b.groups(model_template_id_list=[mt]) == []
    assert b.providers() == [] and b.providers(provider_template_ids=[mpt]) == []
    assert b.models() == [] and b.models(model_template_id=mt) == [] and b.models(llm_template_ids=[llmt]) == []
    expect_error(lambda: b.get_provider(mpt), "InvalidProviderTemplateId.NotFound", 404)
    expect_error(lambda: b.update_group(mt, name="stolen"), "InvalidModelTemplateId.NotFound", 404)
    expect_error(lambda: b.update_provider(mpt, name="stolen"), "InvalidProviderTemplateId.NotFound", 404)
    expect_error(lambda: b.create_provider(mt, "deepseek", {"apiKey": "sk-b-000011112222"}),
                 "InvalidModelTemplateId.NotFound", 404)
    expect_error(lambda: b.add_models(mpt, [{"llm_code": "x"}]), "InvalidProviderTemplateId.NotFound", 404)
    expect_error(lambda: b.delete_model(llmt), "InvalidLlmTemplateId.NotFound", 404)
    expect_error(lambda: b.delete_provider(mpt), "InvalidProviderTemplateId.NotFound", 404)
    expect_error(lambda: b.delete_group(mt), "InvalidModelTemplateId.NotFound", 404)
    # A's objects are untouched
    assert a.group(mt)["Name"] == "tenant a group"
    assert a.get_provider(mpt)["Name"] == "bailian"
    assert [m["LlmTemplateId"] for m in a.models(model_template_id=mt)] == [llmt]


def test_model_groups_persist_across_restart(server_factory):
    srv = server_factory()
    mdl = Models(srv.api())
    mt = mdl.create_group(name="persistent", description="d")
    mpt = mdl.create_provider(mt, "moonshot", {"apiKey": "sk-moonshot-000011112222"})
    mdl.add_models(mpt, [{"llm_code": "kimi-k2", "is_default_model": True, "config": json.dumps(QWEN_CONFIG)}])
    group, provider = mdl.group(mt), mdl.get_provider(mpt)
    models = mdl.models(model_template_id=mt)
    srv.restart()
    mdl = Models(srv.api())
    assert mdl.group(mt) == group
    assert mdl.get_provider(mpt) == provider
    assert mdl.models(model_template_id=mt) == models
    assert json.loads(provider["Config"])["apiKey"] == "sk-m****2222"


def _assert_not_in_clear(srv, *secrets: str) -> None:
    sources = {"server.log": srv.log_path.read_bytes()}
    if srv.database_url:
        dump = db_rows(srv, "SELECT COALESCE(api_key_enc, '') FROM model_provider_templates")
        sources["model_provider_templates"] = repr(dump).encode()
        assert dump and all(r[0].startswith("v1.") for r in dump if r[0]), dump
    else:
        for name in ("amc.db", "amc.db-wal"):
            path = srv.data_dir / name
            if path.exists():
                sources[name] = path.read_bytes()
        assert "amc.db" in sources
    for secret in secrets:
        for name, data in sources.items():
            assert secret.encode() not in data, f"{secret} found in clear in {name}"


def test_api_keys_are_never_stored_logged_or_returned_in_clear(server_factory):
    srv = server_factory()
    mdl = Models(srv.api())
    mt = mdl.create_group()
    mpt = mdl.create_provider(mt, "deepseek", {"apiKey": PLANTED})
    custom = mdl.create_provider(mt, "provider-own", {"baseUrl": "https://llm.example.com/v1", "apiKey": PLANTED})
    seen = [json.dumps(mdl.get_provider(mpt)), json.dumps(mdl.providers(model_template_id=mt))]
    # errors never echo a key
    for bad in ({"baseUrl": "ftp://x", "apiKey": PLANTED}, {"baseUrl": "https://x", "api": "soap", "apiKey": PLANTED}):
        exc = expect_error(lambda bad=bad: mdl.create_provider(mt, "provider-bad", bad), "InvalidParameter", 400)
        seen.append(str(exc))
    exc = expect_error(lambda: mdl.create_provider(mt, "deepseek", {"apiKey": PLANTED}), "ProviderName.AlreadyExists")
    seen.append(str(exc))
    mdl.update_provider(custom, config={"api_key": PLANTED_2})
    exc = expect_error(lambda: mdl.update_provider(custom, config={"api_key": PLANTED, "base_url": "nope"}),
                       "InvalidParameter", 400, names="Config.BaseUrl")
    seen.append(str(exc))
    seen += [json.dumps(mdl.get_provider(custom)), json.dumps(mdl.providers())]
    assert json.loads(mdl.get_provider(custom)["Config"])["apiKey"] == "sk-p****3210"
    for text in seen:
        assert PLANTED not in text and PLANTED_2 not in text and "0123456789" not in text, text
    _assert_not_in_clear(srv, PLANTED, PLANTED_2)
    srv.stop()
    _assert_not_in_clear(srv, PLANTED, PLANTED_2)


def test_rotate_master_key(server_factory):
    srv = server_factory()
    api = srv.api()
    mdl = Models(api)
    other = srv.create_tenant()
    mt = mdl.create_group()
    mpt = mdl.create_provider(mt, "deepseek", {"apiKey": PLANTED})
    before = mdl.get_provider(mpt)
    # an IM channel's settings are a secret too
    rid = api.create(image=IMG_UBUNTU, name="rotate")[0]
    a = _m()
    channel = a.ConfigRuntimeChannelRequest(agent_provider="OpenClaw", code="dingtalk-connector", config=json.dumps(
        {"appKey": "dingkey", "appSecret": "s3cret-rotate"}), runtime_ids=[rid], runtime_type="CloudDesktop")
    assert api.appstream.config_runtime_channel(channel).body.request_id

    def channels(client):
        req = a.GetRuntimeChannelRequest(agent_provider="OpenClaw", runtime_id=rid, runtime_type="CloudDesktop")
        return client.appstream.get_runtime_channel(req).body.to_map()["Data"]

    channels_before = channels(api)
    assert len(channels_before) == 1, channels_before
    key_file = srv.data_dir / "master.key"
    old_key = key_file.read_text()
    srv.stop()

    args = ["rotate-master-key", "--data-dir", str(srv.data_dir)]
    if srv.database_url:
        args += ["--database-url", srv.database_url]
    res = srv.admin(*args)
    assert res.returncode == 0, f"{res.stdout}\n{res.stderr}"
    report = json.loads(res.stdout)
    # the root key, the second tenant's key, the provider key and the channel settings
    assert report["Reencrypted"] == 4, report
    assert report["OldKeyId"] != report["NewKeyId"] and "NewMasterKey" not in report, report
    assert key_file.read_text() != old_key
    assert not (srv.data_dir / "master.key.old").exists()
    assert not (srv.data_dir / "master.key.new").exists()
    assert PLANTED not in res.stdout + res.stderr

    srv.start()
    mdl = Models(srv.api())
    assert mdl.get_provider(mpt) == before
    assert channels(srv.api()) == channels_before
    b = Models(srv.api((other["AccessKeyId"], other["AccessKeySecret"])))
    assert b.groups() == []
    expect_ok(raw_v3(srv, "ListModelProviderEndpoints", V_APPSTREAM, {"ProviderName": "deepseek"}))
    if not srv.database_url:
        _assert_not_in_clear(srv, PLANTED)

    # a second rotation with a given key works the same way
    srv.stop()
    given = "ab" * 32
    res = srv.admin(*args, "--new-key", given)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["Reencrypted"] == 4
    srv.start()
    assert Models(srv.api()).get_provider(mpt) == before
    # rotating to the key already in use is refused before anything is touched
    res = srv.admin(*args, "--new-key", given)
    assert res.returncode != 0 and "current" in res.stderr, res.stderr


def test_interrupted_rotation_is_recovered(server_factory):
    """A rotation that committed but did not replace the key file: the store is under the key of
    master.key.new while master.key still holds the old one. The server reads on, and a new
    rotation refuses to start until the operator has cleaned up."""
    srv = server_factory()
    mdl = Models(srv.api())
    mt = mdl.create_group()
    mpt = mdl.create_provider(mt, "deepseek", {"apiKey": PLANTED})
    before = mdl.get_provider(mpt)
    srv.stop()
    key_file = srv.data_dir / "master.key"
    old_key = key_file.read_text()
    args = ["rotate-master-key", "--data-dir", str(srv.data_dir)]
    if srv.database_url:
        args += ["--database-url", srv.database_url]
    res = srv.admin(*args)
    assert res.returncode == 0, res.stderr
    (srv.data_dir / "master.key.new").write_text(key_file.read_text())
    key_file.write_text(old_key)

    srv.start()
    assert Models(srv.api()).get_provider(mpt) == before
    srv.stop()
    res = srv.admin(*args)
    assert res.returncode != 0 and "master.key.new" in res.stderr, res.stderr


def test_rotate_master_key_from_the_environment(server_factory, monkeypatch):
    first = "11" * 32
    monkeypatch.setenv("AMC_MASTER_KEY", first)
    srv = server_factory()
    mdl = Models(srv.api())
    mpt = mdl.create_provider(mdl.create_group(), "deepseek", {"apiKey": PLANTED})
    before = mdl.get_provider(mpt)
    srv.stop()
    args = ["rotate-master-key", "--data-dir", str(srv.data_dir)]
    if srv.database_url:
        args += ["--database-url", srv.database_url]
    res = srv.admin(*args)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["NewMasterKey"] and "AMC_MASTER_KEY" in res.stderr, report
    assert not (srv.data_dir / "master.key").exists()

    monkeypatch.setenv("AMC_MASTER_KEY", report["NewMasterKey"])
    srv.start()
    assert Models(srv.api()).get_provider(mpt) == before
    srv.stop()
    # the old key no longer opens the store
    monkeypatch.setenv("AMC_MASTER_KEY", first)
    res = srv.admin("tenant", "create", "--name", "late", *srv.store_args())
    assert res.returncode != 0, res.stdout


def test_model_actions_with_v2_signatures(server):
    """The legacy signer (aliyun-python-sdk-core, as the aliyun CLI uses it): GET and POST."""
    info = server.create_tenant()
    key = (info["AccessKeyId"], info["AccessKeySecret"])
    created = core_call(server, "CreateModelTemplate", V_APPSTREAM,
                        {"Name": "v2 group", "AgentProvider": "OpenClaw", "BizType": 1}, method="POST", key=key)
    mt = created["Data"]["ModelTemplateId"]
    provider = core_call(server, "CreateModelProviderTemplate", V_APPSTREAM,
                         {"ModelTemplateId": mt, "ProviderName": "provider-v2", "AgentProvider": "OpenClaw",
                          "BizType": 1, "Config": json.dumps({"baseUrl": "https://v2.example.com/v1"})}, key=key)
    mpt = provider["Data"]["ProviderTemplateId"]
    core_call(server, "BatchCreateLlmTemplates", V_APPSTREAM,
              {"ProviderTemplateId": mpt, "LlmTemplateItems": [{"LlmCode": "m1", "IsDefaultModel": "true"}]},
              method="POST", key=key)
    listed = core_call(server, "ListModelTemplates", V_APPSTREAM,
                       {"BizType": 1, "ModelTemplateIdList": json.dumps([mt])}, key=key)
    assert [g["ModelTemplateId"] for g in listed["Data"]] == [mt]
    assert json.loads(listed["Data"][0]["Config"]) == {"defaults": {"model": {"primary": "provider-v2/m1"}}}
