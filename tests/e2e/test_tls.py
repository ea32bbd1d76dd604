"""`amc serve --tls-cert --tls-key`: the official SDKs (the ecd SDK, oss2) reach the API and the
upload endpoint over HTTPS, verifying the server's certificate; a plain HTTP request to the TLS
port gets no answer."""

from __future__ import annotations

import datetime
import ipaddress

import oss2
import pytest
import requests

from test_skill_upload import weather_zip
from test_skills import ecd, m


@pytest.fixture
def certificate(tmp_path):
    """An organisation's own CA and a server certificate it signed for 127.0.0.1: the server's
    chain file, its key, and the CA file a client trusts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "amc test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    chain, key_path, ca_path = tmp_path / "chain.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return chain, key_path, ca_path


def test_the_sdks_reach_amc_over_tls(server_factory, certificate, monkeypatch):
    chain, key, cert = certificate
    srv = server_factory(args=("--tls-cert", str(chain), "--tls-key", str(key)))
    assert srv.url.startswith("https://")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # both SDKs send through requests
    assert requests.get(f"{srv.url}/healthz", timeout=10).json() == {"status": "ok"}

    from alibabacloud_tea_openapi import models as open_api_models
    from alibabacloud_ecd20210602.client import Client

    client = Client(open_api_models.Config(access_key_id=srv.root_key[0], access_key_secret=srv.root_key[1],
                                           endpoint=f"127.0.0.1:{srv.port}", protocol="https",
                                           region_id="cn-hangzhou"))
    from darabonba.runtime import RuntimeOptions

    trusting = RuntimeOptions(ca=str(cert))  # the SDK verifies against this CA
    body = client.list_skills_with_options(m().ListSkillsRequest(skill_channel="ENTERPRISE"), trusting)
    assert body.body.to_map()["TotalCount"] == 0
    token = client.get_oss_sts_token_with_options(m().GetOssStsTokenRequest(file_type="SKILL"), trusting).body
    bucket = oss2.Bucket(oss2.StsAuth(token.access_key_id, token.access_key_secret, token.security_token),
                         srv.url, token.bucket)
    data = weather_zip()
    assert bucket.put_object(token.object_key_prefix + "weather.zip", data).status == 200
    assert bucket.get_object(token.object_key_prefix + "weather.zip").read() == data

    # Plain HTTP on the TLS port, and TLS a client does not trust: refused, nothing served.
    with pytest.raises(requests.RequestException):
        requests.get(f"http://127.0.0.1:{srv.port}/healthz", timeout=5)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{srv.url}/healthz", timeout=5)
    assert srv.alive()


def test_tls_flags_go_together(server_factory, certificate):
    cert, _, _ = certificate
    srv = server_factory(start=False, args=("--tls-cert", str(cert)))
    import subprocess
    out = subprocess.run(srv.command(), capture_output=True, text=True, timeout=30, env=srv.env())
    assert out.returncode != 0 and "--tls-key" in out.stderr, out.stderr


def test_a_node_daemon_enrols_and_reports_over_tls(server_factory, certificate, monkeypatch, tmp_path):
    from agent_e2e import Agent, wait_for
    from amc_e2e import BUNDLE_OPENCLAW, REGION, json_body, raw_v3
    from test_agent import install_openclaw, token_for

    chain, key, cert = certificate
    srv = server_factory(args=("--tls-cert", str(chain), "--tls-key", str(key)))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    created = json_body(raw_v3(srv, "CreateDesktops", "2020-09-30",
                               {"RegionId": REGION, "BundleId": BUNDLE_OPENCLAW, "Amount": 1}))
    rid = created["DesktopId"][0]
    agent = Agent(srv.binary, tmp_path / "host")
    install_openclaw(agent)
    # A certificate of the organisation's own CA: refused until the daemon is told to trust it.
    refused = agent.enroll(srv.url, token_for(srv, rid), expect_ok=False)
    assert refused.returncode != 0, refused.stdout
    agent.enroll(srv.url, token_for(srv, rid), "--ca-cert", str(cert))
    agent.start()
    try:
        def reported():
            rows = json_body(raw_v3(srv, "ListDesktopAgentRuntime", "2021-09-01",
                                    {"AgentProvider": "OpenClaw", "DesktopIds": [rid]}))
            instances = (rows.get("Data") or rows.get("DesktopAgentRuntimes") or [{}])[0].get(
                "AgentInstanceInfoList") or []
            return instances and instances[0].get("AgentInstanceStatus") not in (None, "", "Unknown")

        wait_for(reported, "the daemon's report over TLS", on_fail=agent.log_text)
        assert (agent.dir / "server-ca.pem").read_bytes() == cert.read_bytes()
    finally:
        agent.kill()
