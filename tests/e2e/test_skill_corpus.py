"""The labelled skill corpus (tests/skills/corpus.py: benign, malicious and format-invalid
packages) through the official SDKs: each package uploaded with oss2, parsed, and — when parsing
completes — made a skill, whose scan ListSkills shows. Format-invalid packages fail with their
rule's code; every malicious one is flagged (a finding of medium severity or worse costs at least
10 points of the score and is named in the fail reason); no benign one fails the scan."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from amc_e2e import wait_until
from test_delivery import other_tenant
from test_skill_upload import oss2_bucket, scan, skill_row, sts
from test_skills import ecd, m

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "skills"))
import corpus  # noqa: E402


@pytest.fixture(scope="module")
def results(server):
    api = other_tenant(server)
    client = ecd(server, api.key)
    token = sts(client)
    bucket = oss2_bucket(server, token)
    tasks = {}
    for pid in sorted(corpus.PACKAGES):
        key = f"{token.object_key_prefix}{pid}.zip"
        etag = bucket.put_object(key, corpus.build(pid)).etag
        tasks[pid] = client.parse_skill_package(
            m().ParseSkillPackageRequest(oss_object_key=key, oss_object_etag=etag)).body.task_key

    def progress(task):
        return client.get_parse_progress(m().GetParseProgressRequest(task_key=task)).body.data.to_map()

    done = {}

    def all_done():
        for pid, task in tasks.items():
            if pid not in done:
                p = progress(task)
                if p["Status"] != "PARSING_METADATA":
                    done[pid] = p
        return len(done) == len(tasks)

    wait_until(all_done, 180, 0.5, "every corpus package parsed")
    rows = {}
    for pid, p in done.items():
        if p["Status"] == "COMPLETED":
            # Each package its own skill (several share a name): the slug is the package id.
            skill_id = client.create_tenant_skill(m().CreateTenantSkillRequest(
                task_key=p["TaskKey"], skill_channel="ENTERPRISE", slug=pid)).body.skill_id
            rows[pid] = scan(skill_row(client, skill_id))
    return done, rows


def kind(k):
    return sorted(pid for pid, lab in corpus.LABELS.items() if lab["kind"] == k)


@pytest.mark.parametrize("pid", kind("invalid"))
def test_invalid_packages_fail_with_their_rule(results, pid):
    done, _ = results
    assert done[pid]["Status"] == "FAILED", done[pid]
    assert done[pid]["ErrorCode"] == corpus.LABELS[pid]["expect_error"], done[pid]


@pytest.mark.parametrize("pid", kind("malicious"))
def test_malicious_packages_are_flagged(results, pid):
    done, rows = results
    assert done[pid]["Status"] == "COMPLETED", done[pid]
    row = rows[pid]
    assert row["SecurityScanScore"] <= 90, (corpus.LABELS[pid]["does"], row)
    assert row["SecurityScanFailReason"], row


@pytest.mark.parametrize("pid", kind("benign"))
def test_benign_packages_pass(results, pid):
    done, rows = results
    assert done[pid]["Status"] == "COMPLETED", done[pid]
    assert rows[pid]["SecurityScanStatus"] == "PASSED", (corpus.LABELS[pid]["does"], rows[pid])
