"""Throw-away PKI for TLS tests: a trustme CA, a server certificate for 127.0.0.1/localhost,
a client certificate, written as PEM files so that both libcurl and ``ssl`` can load them."""

import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import trustme


class Pki(NamedTuple):
    ca_file: str            # the CA certificate (CAINFO)
    ca_dir: str | None      # a hashed directory holding it (CAPATH); None without openssl
    server_cert: str        # server certificate chain
    server_key: str
    client_cert: str        # client certificate chain, issued by the same CA
    client_key: str
    other_ca_file: str      # an unrelated CA: verifying the server against it must fail


def make_pki(directory):
    """Create the files under ``directory`` (a pytest ``tmp_path``) and return their paths."""
    directory = Path(directory)
    ca, other = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost", "::1")
    client = ca.issue_cert("cpe.example", common_name="cpe")
    files = {
        "ca.pem": ca.cert_pem.bytes(),
        "other-ca.pem": other.cert_pem.bytes(),
        "server.pem": b"".join(p.bytes() for p in server.cert_chain_pems),
        "server.key": server.private_key_pem.bytes(),
        "client.pem": b"".join(p.bytes() for p in client.cert_chain_pems),
        "client.key": client.private_key_pem.bytes(),
    }
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return Pki(str(directory / "ca.pem"), _hashed_dir(directory, ca.cert_pem.bytes()),
               str(directory / "server.pem"), str(directory / "server.key"),
               str(directory / "client.pem"), str(directory / "client.key"),
               str(directory / "other-ca.pem"))


def _hashed_dir(directory, ca_pem):
    """OpenSSL finds CAPATH certificates by ``<subject hash>.0``; ask openssl for the hash."""
    openssl = shutil.which("openssl")
    if not openssl:
        return None
    subject_hash = subprocess.run([openssl, "x509", "-noout", "-subject_hash"], input=ca_pem,
                                  capture_output=True, check=True, timeout=10).stdout.strip()
    ca_dir = directory / "ca.d"
    ca_dir.mkdir()
    (ca_dir / f"{subject_hash.decode()}.0").write_bytes(ca_pem)
    return str(ca_dir)
