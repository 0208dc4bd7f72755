"""The two secrets (BaseLinker token, RaksSQL password): OS keyring, environment overrides.

They never go into the settings file or a log line. The environment variables exist for
headless use (services, CI, tests): ``RAKSBL_BASELINKER_TOKEN`` and ``RAKSBL_RAKS_PASSWORD``.
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


def env_var(name: str) -> str:
    return _ENV[name]


def get_secret(name: str) -> str:
    """Return the secret ``name``; ConfigError naming it (and where to put it) if it is missing."""
    value = os.environ.get(_ENV[name])
    if value:
        _never_log(value)
        return value
    try:
        import keyring

        value = keyring.get_password(SERVICE, name)
    except Exception as exc:  # no usable keyring backend (headless Linux without a secret service)
        log.warning("OS keyring unavailable (%s); only %s can provide the secret", type(exc).__name__, _ENV[name])
        value = None
    if not value:
        raise ConfigError(
            f"Brak sekretu: {_DESCRIPTION[name]}. Zapisz go w Ustawieniach (magazyn haseł systemu, "
            f"usługa '{SERVICE}', nazwa '{name}') albo ustaw zmienną środowiskową {_ENV[name]}.",
            key=f"secret:{name}",
        )
    _never_log(value)
    return value


def _never_log(value: str) -> None:
    from agent.logs import register_secret

    register_secret(value)


class KeyringUnavailable(ConfigError):
    """The OS keyring cannot store secrets here (e.g. Linux without a secret service)."""


def _keyring_unavailable(name: str, exc: Exception) -> KeyringUnavailable:
    log.warning("OS keyring unavailable for %s: %s", name, type(exc).__name__)
    return KeyringUnavailable(
        f"Systemowy magazyn haseł jest niedostępny ({type(exc).__name__}), więc nie można w nim zapisać: "
        f"{_DESCRIPTION[name]}. Ustaw zamiast tego zmienną środowiskową {_ENV[name]} (np. w usłudze albo "
        "skrócie uruchamiającym raksbl) albo zainstaluj magazyn haseł (w Linuksie: gnome-keyring / KWallet).",
        key=f"secret:{name}",
    )


def set_secret(name: str, value: str) -> None:
    """Store ``value`` in the OS keyring (an empty value deletes it)."""
    import keyring

    if name not in _ENV:
        raise KeyError(name)
    if not value:
        delete_secret(name)
        return
    try:
        keyring.set_password(SERVICE, name, value)
    except Exception as exc:  # NoKeyringError, PasswordSetError, a D-Bus error of the backend
        raise _keyring_unavailable(name, exc) from None


def delete_secret(name: str) -> None:
    import keyring
    from keyring.errors import PasswordDeleteError

    try:
        keyring.delete_password(SERVICE, name)
    except PasswordDeleteError:
        pass
    except Exception as exc:
        raise _keyring_unavailable(name, exc) from None
