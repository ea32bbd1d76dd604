"""The API's rate limit: more than `--api-rate-limit` calls in one second signed by one access key
are refused with the cloud's `Throttling.User` (400) and an `x-acs-retry-after` the SDKs back off
by; other keys are not affected; on PostgreSQL the count is shared by replicas."""

from __future__ import annotations

import math
import time

import pytest

from amc_e2e import REGION, json_body, raw_v3

V_ECD = "2020-09-30"
LIMIT = 3


def burst(servers, key, calls: int):
    """`calls` DescribeDesktops as fast as they go, round-robin over `servers`: the answers, and
    how many one-second windows they spanned."""
    start = time.time()
    answers = [raw_v3(servers[i % len(servers)], "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=key)
               for i in range(calls)]
    end = time.time()
    return answers, math.floor(end) - math.floor(start) + 1


def check(answers, windows: int) -> None:
    ok = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert len(ok) <= LIMIT * windows, (len(ok), windows)
    assert refused, "nothing was throttled"
    for answer in refused:
        body = json_body(answer)
        assert (answer.status_code, body["Code"]) == (400, "Throttling.User"), body
        assert 0 < int(answer.headers["x-acs-retry-after"]) <= 1000


def test_a_key_over_its_rate_is_throttled_and_others_are_not(server_factory):
    srv = server_factory(args=("--api-rate-limit", str(LIMIT)))
    answers, windows = burst([srv], srv.root_key, 12)
    check(answers, windows)
    other = srv.create_tenant()
    assert raw_v3(srv, "DescribeDesktops", V_ECD, {"RegionId": REGION},
                  key=(other["AccessKeyId"], other["AccessKeySecret"])).status_code == 200
    time.sleep(1.1)
    assert raw_v3(srv, "DescribeDesktops", V_ECD, {"RegionId": REGION}, key=srv.root_key).status_code == 200

    # The official SDK sees a throttling error it can back off from.
    from alibabacloud_ecd20200930 import models
    from amc_e2e import ecd_client
    client = ecd_client(srv)
    with pytest.raises(Exception) as info:
        for _ in range(12):
            client.describe_desktops(models.DescribeDesktopsRequest(region_id=REGION))
    assert "Throttling" in type(info.value).__name__ or "Throttling.User" in str(info.value), info.value


def test_the_limit_holds_across_replicas(server_factory, backend):
    if backend != "postgres":
        pytest.skip("replicas share a PostgreSQL database")
    first = server_factory(args=("--api-rate-limit", str(LIMIT)))
    second = server_factory.replica(first)
    answers, windows = burst([first, second], first.root_key, 12)
    check(answers, windows)


def test_a_key_of_its_own_limit(server_factory):
    """`amc admin key-rate-limit` gives one key a limit of its own, tighter or looser than the
    server's default, and `--default` takes it back."""
    srv = server_factory(args=("--api-rate-limit", str(LIMIT)))
    keys = []
    for per_second in ("0", "1"):
        tenant = srv.create_tenant()
        keys.append((tenant["AccessKeyId"], tenant["AccessKeySecret"]))
        out = srv.admin("key-rate-limit", "--access-key-id", keys[-1][0], "--per-second", per_second,
                        *srv.store_args())
        assert out.returncode == 0, out.stderr
    unlimited, tight = keys
    missing = srv.admin("key-rate-limit", "--access-key-id", "LTAInobody", "--per-second", "1", *srv.store_args())
    assert missing.returncode != 0 and "no access key" in missing.stderr

    answers, _ = burst([srv], unlimited, 12)
    assert all(a.status_code == 200 for a in answers), "an unlimited key is never throttled"
    answers, windows = burst([srv], tight, 6)
    ok = [a for a in answers if a.status_code == 200]
    assert 1 <= len(ok) <= windows, (len(ok), windows)

    out = srv.admin("key-rate-limit", "--access-key-id", unlimited[0], "--default", *srv.store_args())
    assert out.returncode == 0, out.stderr
    time.sleep(11)  # the server reads a key again within its key cache's 10 s
    answers, windows = burst([srv], unlimited, 12)
    check(answers, windows)
