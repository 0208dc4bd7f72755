"""BaseLinker over HTTPS through a re-signing "antivirus": a real TLS server on 127.0.0.1 whose
certificate is signed by a private root CA, like ESET/Avast/a corporate proxy do (issue 15.5).

* The root is in the *system* trust store (here: OpenSSL's ``SSL_CERT_FILE``, which truststore
  reads on Linux; the Windows certificate store on Windows): the call succeeds, although
  certifi - the only list plain ``requests`` trusts - has never heard of that root.
* The root is nowhere: the call fails with a Polish message naming the certificate problem, and
  the request counts as never sent (the TLS handshake failed first), so nothing is "in doubt".
"""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.baselinker.client import BaseLinkerClient
from agent.baselinker.errors import TransportError
from agent.baselinker.ratelimit import RateLimiter


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki(tmp_path):
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("Antywirus SSL Scanner Root")).issuer_name(
        _name("Antywirus SSL Scanner Root")).public_key(ca_key.public_key()).serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file = tmp_path / "root.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file = tmp_path / "server.pem"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return ca_file, cert_file


class Handler(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_POST(self):  # noqa: N802
        Handler.hits += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"status": "SUCCESS", "orders": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def https_server(tmp_path):
    ca_file, cert_file = make_pki(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Handler.hits = 0
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/connector.php", ca_file
    finally:
        server.shutdown()
        server.server_close()


def client(url):
    return BaseLinkerClient("1-abc", url, RateLimiter(1000), timeout=10, connect_timeout=10, sleep=lambda s: None)


def test_a_root_in_the_system_store_is_trusted(https_server, monkeypatch):
    url, ca_file = https_server
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # "installed into the system store"
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert client(url).call("getOrders") == {"orders": []}
    assert Handler.hits == 1


def test_an_unknown_root_is_named_in_polish_and_nothing_was_sent(https_server, monkeypatch, tmp_path):
    url, _ = https_server
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "empty.pem"))
    (tmp_path / "empty.pem").write_text("")
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    with pytest.raises(TransportError) as err:
        client(url).call("addInvoice", order_id=1)
    message = err.value.message
    assert "certyfikat serwera nie jest zaufany" in message
    assert "antywirus" in message and "magazynie certyfikatów Windows" in message
    assert err.value.may_have_executed is False  # the handshake failed: not "in doubt"
    assert Handler.hits == 0
