"""`contactflow serve --tls-cert --tls-key` serves HTTPS (checked with a certificate made
here) and says so with HSTS; a certificate without its key is refused at the command line."""

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from contactflow.cli import app as cli
from tests.support import CLIENT_TIMEOUT_SECONDS

CONTACTFLOW = Path(sys.executable).with_name("contactflow")
LOOPBACK = "127.0.0.1"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A P-256 certificate for 127.0.0.1, valid for a day: (certificate, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOOPBACK)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address(LOOPBACK))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def https_server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`contactflow serve` over TLS in a process of its own: (base URL, certificate)."""
    cert, key = self_signed(tmp_path)
    port = _free_port()
    env = {
        **os.environ,
        "CONTACTFLOW_DATABASE_URL": database_url,
        "CONTACTFLOW_EMBEDDED_WORKERS": "false",
        "CONTACTFLOW_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
    }
    command = [str(CONTACTFLOW), "serve", "--port", str(port)]
    command += ["--tls-cert", str(cert), "--tls-key", str(key)]
    process = subprocess.Popen(  # noqa: S603 - our own command line
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection((LOOPBACK, port), timeout=0.2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    # Its stderr ends only when it does: stop it before reading.
                    process.kill()
                    _, error = process.communicate()
                    raise RuntimeError(
                        f"contactflow serve did not start: {error.decode()}"
                    ) from None
                time.sleep(0.05)
        yield f"https://{LOOPBACK}:{port}", cert
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


async def test_serve_answers_over_tls_and_sends_hsts(https_server: tuple[str, Path]) -> None:
    base_url, cert = https_server
    trusted = ssl.create_default_context(cafile=str(cert))
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=base_url, verify=trusted
    ) as http:
        response = await http.get("/health")
        tls = response.extensions["network_stream"].get_extra_info("ssl_object")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert tls.version() in ("TLSv1.2", "TLSv1.3")
    # The certificate is checked: a client that does not trust it gets no answer ...
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS, base_url=base_url) as untrusting:
        with pytest.raises(httpx.ConnectError):
            await untrusting.get("/health")
    # ... and plain http on the same port gets none either.
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=base_url.replace("https", "http")
    ) as plain:
        with pytest.raises(httpx.HTTPError):
            await plain.get("/health")


def test_a_certificate_needs_its_key(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    result = CliRunner().invoke(cli, ["serve", "--tls-cert", str(cert)])
    assert result.exit_code == 2
    assert "--tls-cert and --tls-key go together" in result.output
