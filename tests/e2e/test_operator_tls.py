"""--tls-cert / --tls-key: Herald serves the operator's own certificate."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import boto3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.harness import ACCESS_KEY_ID, REGION, HeraldProcess


def _issue(directory: Path) -> tuple[Path, Path, Path]:
    """A small CA and a server certificate it signed for 127.0.0.1: (ca, cert, key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Operator test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "herald.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def test_the_operators_certificate_is_served(tmp_path: Path) -> None:
    # Given a certificate issued by the operator's own CA
    ca, cert, key = _issue(tmp_path)
    herald = HeraldProcess(
        tmp_path / "data", extra_args=["--tls-cert", str(cert), "--tls-key", str(key)]
    ).start()
    try:
        # When a client trusting only that CA connects over HTTPS
        sns = boto3.client(
            "sns",
            endpoint_url=herald.https_url,
            verify=str(ca),
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=herald.secret,
        )
        arn = sns.create_topic(Name="operator-tls")["TopicArn"]
        # Then the call succeeds, the served certificate is the operator's, and Herald
        # made no certificate of its own
        served = ssl.get_server_certificate(("127.0.0.1", herald.tls_port))
        assert served.strip() == cert.read_text().strip()
        assert arn.endswith(":operator-tls")
        assert not (tmp_path / "data" / "tls-cert.pem").exists()
        # And a graceful stop does not wait on the client's idle keep-alive TLS connection
        # (which would hold it until the kill that stop() falls back to)
        assert herald.stop(timeout=20) == 0
    finally:
        herald.stop()
