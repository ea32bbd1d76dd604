"""A busy fleet: concurrent SDK clients (threads) changing the same runtimes, model groups and provider
templates at once, on one server and, on PostgreSQL, on two replicas of one database.

Every call answers 200 or a documented 4xx — never a 5xx: contention the server cannot resolve by
itself answers `OperationConflict` (409) — and what the calls leave behind is consistent."""

from __future__ import annotations

import json
import random
import threading

from amc_e2e import IMG_UBUNTU, REGION, wait_until
from test_delivery import bind, model_config
from test_models import Models

THREADS = 8
ROUNDS = 40
# A fleet big enough that PostgreSQL finds runtimes through indexes, in orders of their own.
FLEET = 1000
BATCH = 50
STEP_MS = 30
SETTLE_S = 30
# Besides 200: what a call of the storm may answer (HTTP status, code).
CONFLICT = (409, "OperationConflict")
STATE_REFUSED = (400, "IncorrectDesktopStatus")


def _a():
    from alibabacloud_appstream_center20210901 import models

    return models


def _e():
    from alibabacloud_ecd20200930 import models

    return models


class Answers:
    """Every answer of a storm, by (action, HTTP status, code), shared by the threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[tuple[str, int, str], int] = {}
        self.crashes: list[str] = []

    def call(self, action: str, fn) -> bool:
        """Runs one SDK call; True when it answered 200."""
        from Tea.exceptions import TeaException

        try:
            fn()
            key = (action, 200, "")
        except TeaException as exc:
            status = getattr(exc, "statusCode", None) or (exc.data or {}).get("statusCode") or 0
            key = (action, int(status), exc.code or "")
        except Exception as exc:  # a broken connection or a body that is not JSON
            with self.lock:
                self.crashes.append(f"{action}: {exc!r}")
            return False
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
        return key[1] == 200

    def unexpected(self, allowed: set[tuple[int, str]]) -> dict:
        return {k: n for k, n in self.counts.items() if k[1] != 200 and (k[1], k[2]) not in allowed}

    def total(self) -> int:
        return sum(self.counts.values())


def run_threads(workers) -> None:
    threads = [threading.Thread(target=w, daemon=True) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a client thread did not finish"


def _servers(request, primary):
    """The servers a storm talks to: `primary`, and a replica of it on PostgreSQL."""
    if primary.backend == "postgres":
        return [primary, request.getfixturevalue("server_factory").replica(primary)]
    return [primary]


def _no_internal_errors(*servers) -> None:
    for srv in servers:
        log = srv.log_text()
        for needle in ("internal error", "deadlock", "lifecycle step failed"):
            assert needle not in log, f"{srv.url} logged {needle!r}:\n{srv.log_tail()}"


def test_concurrent_delivery_changes_answer_no_5xx_and_stay_consistent(request, server_factory):
    """issue: contention (PostgreSQL deadlocks). Eight clients at once assign, remove and update model
    groups of overlapping runtimes, and stop and start some of them while the lifecycle loop applies
    steps; every call answers 200 (or a documented 4xx) and the fleet ends in one consistent state."""
    primary = server_factory(delay_ms=STEP_MS)
    servers = _servers(request, primary)
    api = primary.api()
    rg = api.create_group("storm")
    ids = [i for _ in range(FLEET // 100) for i in api.create(image=IMG_UBUNTU, amount=100, name="storm", rg=rg)]

    def fleet(srv=primary) -> dict:
        rows = srv.api().runtimes(resource_group_id=rg)
        return {r["DesktopId"]: (r["DesktopStatus"], r.get("ModelTemplateId")) for r in rows}

    wait_until(lambda: {s for s, _ in fleet().values()} == {"Running"}, SETTLE_S, what="the storm's desktops to run")
    mdl = Models(api)
    templates = [mdl.create_group(name=f"storm-{i}") for i in range(3)]
    names = {mt: f"storm-{i}" for i, mt in enumerate(templates)}
    # Every runtime without a model group of its own inherits the first: its updates sweep the fleet.
    bind(api, templates[0], rg)
    answers = Answers()

    def worker(n: int):
        client = servers[n % len(servers)].api()
        rng = random.Random(n)
        a, e = _a(), _e()
        for i in range(ROUNDS):
            mt = rng.choice(templates)
            batch = rng.sample(ids, BATCH)
            op = rng.randrange(5)
            if op == 0:
                answers.call("ConfigRuntimeModelTemplate", lambda: client.appstream.config_runtime_model_template(
                    a.ConfigRuntimeModelTemplateRequest(model_template_id=mt, runtime_ids=batch,
                                                        runtime_type="CloudDesktop")))
            elif op == 1:
                answers.call("RemoveRuntimeModelTemplate", lambda: client.appstream.remove_runtime_model_template(
                    a.RemoveRuntimeModelTemplateRequest(model_template_id=mt, runtime_ids=batch,
                                                        runtime_type="CloudDesktop")))
            elif op == 2:
                answers.call("UpdateModelTemplate", lambda: client.appstream.update_model_template(
                    a.UpdateModelTemplateRequest(model_template_id=mt, description=f"client {n} round {i}")))
            elif op == 3:
                answers.call("StopDesktops", lambda: client.ecd.stop_desktops(
                    e.StopDesktopsRequest(region_id=REGION, desktop_id=batch[:3])))
            else:
                answers.call("StartDesktops", lambda: client.ecd.start_desktops(
                    e.StartDesktopsRequest(region_id=REGION, desktop_id=batch[:3])))

    run_threads([lambda n=n: worker(n) for n in range(THREADS)])
    assert not answers.crashes, answers.crashes
    assert answers.total() == THREADS * ROUNDS, answers.counts
    assert not answers.unexpected({CONFLICT, STATE_REFUSED}), answers.counts
    # The server settles contention itself: a conflict is the exception, not the rule.
    conflicts = sum(n for k, n in answers.counts.items() if (k[1], k[2]) == CONFLICT)
    assert conflicts <= answers.total() // 10, answers.counts

    # Every operation finishes, and every replica sees the same fleet.
    wait_until(lambda: {s for s, _ in fleet().values()} <= {"Running", "Stopped"}, SETTLE_S,
               what="every operation of the storm to finish")
    views = [fleet(srv) for srv in servers]
    assert sorted(views[0]) == sorted(ids)
    assert all(v == views[0] for v in views), "the replicas disagree"
    assert {mt for _, mt in views[0].values()} <= set(templates), views[0]
    for rid in rng_sample(ids, 20):
        cfg = model_config(api, rid)
        assert cfg["ModelTemplateId"] == views[0][rid][1], (rid, views[0][rid], cfg)
    for mt in templates:
        assert mdl.group(mt)["Name"] == names[mt]

    # Taking every direct assignment away leaves each runtime with its resource group's model group.
    a = _a()
    for mt in templates:
        for chunk in range(0, len(ids), 500):
            api.appstream.remove_runtime_model_template(a.RemoveRuntimeModelTemplateRequest(
                model_template_id=mt, runtime_ids=ids[chunk:chunk + 500], runtime_type="CloudDesktop"))
    assert {mt for _, mt in fleet().values()} == {templates[0]}
    for rid in rng_sample(ids, 20):
        cfg = model_config(api, rid)
        assert cfg["ModelTemplateId"] == templates[0] and cfg["ModelTemplateRefType"] == "ResourceGroup", cfg
    _no_internal_errors(*servers)


def rng_sample(items, n):
    return random.Random(len(items)).sample(items, min(n, len(items)))


def test_concurrent_provider_updates_lose_no_field(request, server_factory):
    """issue: contention (lost update). Four clients update four different fields of one provider
    template at once, each many times; afterwards every field holds its client's last value."""
    primary = server_factory()
    servers = _servers(request, primary)
    mdl = Models(primary.api())
    mt = mdl.create_group(name="lost-update")
    mpt = mdl.create_provider(mt, pname="provider-lost-update", provider_type="Custom",
                              config={"baseUrl": "https://llm.example.com/v1", "apiKey": "sk-first-0000000000",
                                      "api": "openai-completions"})
    answers = Answers()
    a = _a()
    fields = {
        "name": lambda i: {"name": f"name-{i}"},
        "description": lambda i: {"description": f"description-{i}"},
        "base_url": lambda i: {"config": a.UpdateModelProviderTemplateRequestConfig(
            base_url=f"https://llm{i}.example.com/v1")},
        "api_key": lambda i: {"config": a.UpdateModelProviderTemplateRequestConfig(
            api_key=f"sk-rotated-{i:04d}-abcdefgh{i:04d}")},
    }

    def worker(n: int, field: str):
        client = servers[n % len(servers)].api()
        for i in range(ROUNDS):
            answers.call("UpdateModelProviderTemplate", lambda: client.appstream.update_model_provider_template(
                a.UpdateModelProviderTemplateRequest(provider_template_id=mpt, **fields[field](i))))

    run_threads([lambda n=n, f=f: worker(n, f) for n, f in enumerate(fields)])
    assert not answers.crashes, answers.crashes
    assert answers.counts == {("UpdateModelProviderTemplate", 200, ""): len(fields) * ROUNDS}, answers.counts
    last = ROUNDS - 1
    for srv in servers:
        got = Models(srv.api()).get_provider(mpt)
        assert got["Name"] == f"name-{last}", got
        assert got["Description"] == f"description-{last}", got
        config = json.loads(got["Config"])
        assert config["baseUrl"] == f"https://llm{last}.example.com/v1", got
        assert config["apiKey"].endswith(f"{last:04d}"), got
    _no_internal_errors(*servers)


def test_replica_lists_rows_another_replica_just_created(tenant, replica):
    """issue: contention (replicas hide fresh rows). A replica that has just counted nothing still
    lists the rows another replica created a moment later: a cached count may lag, a page never does."""
    other = replica.api(tenant.key)
    rg = tenant.create_group("fresh")
    # The replica counts the (empty) group for both listings, and caches the counts.
    assert other.runtimes_page(agent_provider="OpenClaw", resource_group_id=rg)["TotalCount"] == 0
    assert other.describe(resource_group_id=rg, max_results=2)["TotalCount"] == 0
    ids = tenant.create(image=IMG_UBUNTU, amount=3, name="fresh", rg=rg)

    page = other.runtimes_page(agent_provider="OpenClaw", resource_group_id=rg, page_size=10)
    seen = [r["DesktopId"] for r in page.get("Data") or []]
    assert sorted(seen) == sorted(ids), page
    assert page["TotalCount"] >= len(seen), page

    # DescribeDesktops pages by token: the first page says there is a next one, and the next has the rest.
    first = other.describe(resource_group_id=rg, max_results=2)
    assert len(first["Desktops"]) == 2 and first.get("NextToken"), first
    assert first["TotalCount"] >= 3, first
    rest = other.describe(resource_group_id=rg, max_results=2, next_token=first["NextToken"])
    listed = [d["DesktopId"] for d in first["Desktops"] + rest["Desktops"]]
    assert sorted(listed) == sorted(ids), (first, rest)
    assert not rest.get("NextToken"), rest
