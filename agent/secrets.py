"""The two secrets (BaseLinker token, RaksSQL password): OS keyring, environment overrides.

They never go into the settings file or a log line. The environment variables exist for
headless use (services, CI, tests): ``RAKSBL_BASELINKER_TOKEN`` and ``RAKSBL_RAKS_PASSWORD``.

With several companies each has its own: keyring name ``baselinker-token/<company>``,
environment ``RAKSBL_BASELINKER_TOKEN_<COMPANY>`` (upper-cased, ``-`` → ``_``). Looked up in
that order, then the unsuffixed secret as the fallback (one password for every database).
"""

from __future__ import annotations

import logging
import os

from agent.errors import ConfigError

log = logging.getLogger(__name__)

SERVICE = "raksbl"
BASELINKER_TOKEN = "baselinker-token"
RAKS_PASSWORD = "raks-password"

_ENV = {
    BASELINKER_TOKEN: "RAKSBL_BASELINKER_TOKEN",
    RAKS_PASSWORD: "RAKSBL_RAKS_PASSWORD",
}
_DESCRIPTION = {
    BASELINKER_TOKEN: "token API BaseLinker",
    RAKS_PASSWORD: "hasło do bazy RaksSQL",
}


def env_var(name: str, company: str = "") -> str:
    """The environment variable of secret ``name`` (of ``company``, when given)."""
    if company:
        from agent.settings import company_env_suffix

        return f"{_ENV[name]}_{company_env_suffix(company)}"
    return _ENV[name]


def keyring_name(name: str, company: str = "") -> str:
    """The keyring user name of secret ``name`` (``baselinker-token/sklep-a`` for a company)."""
    if name not in _ENV:
        raise KeyError(name)
    return f"{name}/{company}" if company else name


def _from_keyring(name: str, env: str) -> str | None:
    try:
        import keyring

        return keyring.get_password(SERVICE, name)
    except Exception as exc:  # no usable keyring backend (headless Linux without a secret service)
        log.warning("OS keyring unavailable (%s); only %s can provide the secret", type(exc).__name__, env)
        return None


def keyring_secret(name: str, company: str = "") -> str:
    """What the keyring holds under ``keyring_name(name, company)`` only — no environment, no
    fallback ("" when nothing, or no usable keyring)."""
    return _from_keyring(keyring_name(name, company), env_var(name, company)) or ""


def _find(name: str, company: str) -> tuple[str, str] | None:
    """``(value, where in words)`` of secret ``name`` in the order get_secret looks: the
    company's own (environment, keyring), then the unsuffixed one as the fallback; None if none."""
    places = [(env_var(name, company), keyring_name(name, company), "własny firmy" if company else "")]
    if company:
        places.append((env_var(name), name, "wspólny"))
    for env, user, whose in places:
        value, where = os.environ.get(env), f"zmienna {env}"
        if not value:
            value, where = _from_keyring(user, env), f"magazyn haseł, nazwa {user}"
        if value:
            return value, (f"{whose} ({where})" if whose else where)
    return None


def get_secret(name: str, company: str = "") -> str:
    """Return the secret ``name`` (of ``company``: its own, else the shared one); ConfigError
    naming it (and where to put it) if it is missing."""
    found = _find(name, company)
    if found is not None:
        _never_log(found[0])
        return found[0]
    whose = f" firmy {company}" if company else ""
    raise ConfigError(
        f"Brak sekretu: {_DESCRIPTION[name]}{whose}. Zapisz go w Ustawieniach (magazyn haseł systemu, "
        f"usługa '{SERVICE}', nazwa '{keyring_name(name, company)}') albo ustaw zmienną środowiskową "
        f"{env_var(name, company)}.",
        key=f"secret:{name}", company=company,
    )


def secret_origin(name: str, company: str = "") -> str | None:
    """Where :func:`get_secret` would take secret ``name`` from, in words (never the value):
    ``"własny firmy (zmienna RAKSBL_BASELINKER_TOKEN_SKLEP_A)"``, ``"wspólny (magazyn haseł,
    nazwa baselinker-token)"`` …; None when it is missing. ``raksbl doctor`` prints it."""
    found = _find(name, company)
    return found[1] if found is not None else None


def _never_log(value: str) -> None:
    from agent.logs import register_secret

    register_secret(value)


class KeyringUnavailable(ConfigError):
    """The OS keyring cannot store secrets here (e.g. Linux without a secret service)."""


def _keyring_unavailable(name: str, exc: Exception, company: str = "") -> KeyringUnavailable:
    log.warning("OS keyring unavailable for %s: %s", name, type(exc).__name__)
    whose = f" firmy {company}" if company else ""
    return KeyringUnavailable(
        f"Systemowy magazyn haseł jest niedostępny ({type(exc).__name__}), więc nie można w nim zapisać: "
        f"{_DESCRIPTION[name]}{whose}. Ustaw zamiast tego zmienną środowiskową {env_var(name, company)} (np. w usłudze albo "
        "skrócie uruchamiającym raksbl) albo zainstaluj magazyn haseł (w Linuksie: gnome-keyring / KWallet).",
        key=f"secret:{name}", company=company,
    )


def set_secret(name: str, value: str, company: str = "") -> None:
    """Store ``value`` in the OS keyring (an empty value deletes it)."""
    import keyring

    user = keyring_name(name, company)
    if not value:
        delete_secret(name, company)
        return
    try:
        keyring.set_password(SERVICE, user, value)
    except Exception as exc:  # NoKeyringError, PasswordSetError, a D-Bus error of the backend
        raise _keyring_unavailable(name, exc, company) from None


def delete_secret(name: str, company: str = "") -> None:
    import keyring
    from keyring.errors import PasswordDeleteError

    try:
        keyring.delete_password(SERVICE, keyring_name(name, company))
    except PasswordDeleteError:
        pass
    except Exception as exc:
        raise _keyring_unavailable(name, exc, company) from None
