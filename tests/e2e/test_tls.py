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
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "amc test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_the_sdks_reach_amc_over_tls(server_factory, certificate, monkeypatch):
    cert, key = certificate
    srv = server_factory(args=("--tls-cert", str(cert), "--tls-key", str(key)))
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
    cert, _ = certificate
    srv = server_factory(start=False, args=("--tls-cert", str(cert)))
    import subprocess
    out = subprocess.run(srv.command(), capture_output=True, text=True, timeout=30, env=srv.env())
    assert out.returncode != 0 and "--tls-key" in out.stderr, out.stderr
