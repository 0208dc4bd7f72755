"""HTTPS that trusts what the operating system trusts, and a plain message when it does not.

``requests`` alone trusts only certifi's CA list. In an office an antivirus with HTTPS scanning
(ESET, Avast, Kaspersky, Bitdefender, ...) or a corporate proxy re-signs every TLS connection
with its own root certificate, which it installs into the *Windows* certificate store - not into
certifi - so every BaseLinker call would fail. :func:`new_session` verifies with the system
store through ``truststore`` (Windows: CryptoAPI; macOS: Security framework; Linux: OpenSSL's
system paths, including ``SSL_CERT_FILE``). Without truststore (it needs Python 3.10+) the
session falls back to requests' own verification.

:func:`certificate_problem` turns a certificate verification failure into a Polish message that
names the problem and the usual cause.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

import requests
from requests.adapters import HTTPAdapter

log = logging.getLogger(__name__)


def system_ssl_context() -> ssl.SSLContext | None:
    """A client context verifying with the OS trust store (None without truststore)."""
    try:
        import truststore
    except ImportError:  # pragma: no cover - a dependency; kept for a broken install
        log.warning("truststore is not installed: HTTPS trusts only the certifi CA list")
        return None
    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class SystemTrustAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose HTTPS connections verify with the system trust store."""

    def __init__(self, *args: Any, ssl_context: ssl.SSLContext | None = None, **kwargs: Any):
        self._ssl_context = ssl_context if ssl_context is not None else system_ssl_context()
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self._ssl_context is not None:
            kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        if self._ssl_context is not None:
            kwargs["ssl_context"] = self._ssl_context
        return super().proxy_manager_for(proxy, **kwargs)


def new_session(max_retries: int = 0) -> requests.Session:
    """A requests Session for BaseLinker: system trust store, no urllib3 retries."""
    session = requests.Session()
    session.mount("https://", SystemTrustAdapter(max_retries=max_retries))
    session.mount("http://", HTTPAdapter(max_retries=max_retries))
    return session


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything it wraps: args, urllib3's ``reason``, ``__cause__``, ``__context__``
    (requests wraps urllib3's errors as ``ConnectionError(MaxRetryError(reason=...))``)."""
    seen: set[int] = set()
    out: list[BaseException] = []
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        out.append(item)
        stack.extend(item.args)
        stack.append(getattr(item, "reason", None))
        stack.append(item.__cause__)
        stack.append(item.__context__)
    return out


def certificate_problem(exc: BaseException) -> str | None:
    """The Polish message for a TLS certificate verification failure in ``exc``'s chain, else None."""
    chain = exception_chain(exc)
    verify = next((e for e in chain if isinstance(e, ssl.SSLCertVerificationError)), None)
    if verify is None:
        text = " ".join(str(e) for e in chain)
        if "CERTIFICATE_VERIFY_FAILED" not in text and "certificate verify failed" not in text:
            return None
        reason = "certyfikat nie został zweryfikowany"
    else:
        detail = (getattr(verify, "verify_message", "") or str(verify.reason or "")).strip()
        reason = _REASONS.get(detail.lower(), detail or "certyfikat nie został zweryfikowany")
    return ("Połączenie z BaseLinker odrzucone: certyfikat serwera nie jest zaufany "
            f"({reason}). Najczęstsza przyczyna: program antywirusowy lub serwer proxy w firmie "
            "sprawdza połączenia HTTPS i podpisuje je własnym certyfikatem, którego nie ma w magazynie "
            "certyfikatów Windows. Dodaj jego certyfikat główny do magazynu Windows (zaufane główne urzędy "
            "certyfikacji) albo wyłącz skanowanie HTTPS dla api.baselinker.com. Sprawdź też datę i godzinę "
            "komputera.")


_REASONS = {
    "self-signed certificate in certificate chain": "samopodpisany certyfikat w łańcuchu",
    "self signed certificate in certificate chain": "samopodpisany certyfikat w łańcuchu",
    "self-signed certificate": "certyfikat samopodpisany",
    "self signed certificate": "certyfikat samopodpisany",
    "unable to get local issuer certificate": "nieznany wystawca certyfikatu",
    "certificate has expired": "certyfikat wygasł",
    "certificate is not yet valid": "certyfikat jeszcze nie jest ważny",
    "hostname mismatch": "certyfikat wystawiono dla innej nazwy serwera",
}
