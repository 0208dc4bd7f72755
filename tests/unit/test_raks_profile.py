"""Profile contract, overrides and order-id extraction (no database)."""

from __future__ import annotations

import types

import pytest
from hypothesis import given, strategies as st

from agent.errors import ConfigError
from agent.raks import profile as P
from agent.raks.errors import ProfileError
from agent.raks.profile import MAX_ORDER_ID, Profile, extract_order_id


@pytest.mark.parametrize(
    "ref, pattern, expected",
    [
        ("BL 12345678", r"\d+", 12345678),
        ("12345678", r"\d+", 12345678),
        ("  bl:987 ", r"\d+", 987),
        ("zam. 55/12345", r"\d+", 55),                 # first run of digits
        ("zam. 55/12345", r"/(\d+)", 12345),           # group 1 when the pattern has one
        ("zam. 55/12345", r"(\d+)$", 12345),
        ("BL 12345678 / allegro 99", r"BL\s*(\d+)", 12345678),
        ("allegro 99", r"BL\s*(\d+)", None),           # no match
        ("brak numeru", r"\d+", None),                 # no digits
        ("", r"\d+", None),
        (None, r"\d+", None),
        ("BL 0", r"\d+", None),                        # not positive
        ("000", r"\d+", None),
        ("BL 0042", r"\d+", 42),
        ("x" + "9" * 25, r"\d+", None),               # does not fit an integer id
        (f"BL {MAX_ORDER_ID}", r"\d+", MAX_ORDER_ID),
        (f"BL {MAX_ORDER_ID + 1}", r"\d+", None),
        ("BL abc", r"BL\s*(\w+)", None),               # group is not a number
        ("BL ١٢٣", r"\d+", None),                      # non-ASCII digits are not an id
        ("BL 12345678", r"(", None),                   # invalid pattern: no id, no crash
    ],
)
def test_extract_order_id(ref, pattern, expected):
    assert extract_order_id(ref, pattern) == expected


@given(st.integers(min_value=1, max_value=MAX_ORDER_ID), st.text(alphabet="BLzamó. /-:#", max_size=8))
def test_extract_order_id_finds_any_id_after_a_prefix(order_id, prefix):
    assert extract_order_id(f"{prefix}{order_id} koniec", r"\d+") == order_id


@given(st.text(max_size=40))
def test_extract_order_id_never_raises(text):
    result = extract_order_id(text, r"\d+")
    assert result is None or 0 < result <= MAX_ORDER_ID


def test_every_statement_has_a_default_and_a_spec():
    assert set(P.DEFAULT_QUERIES) == set(P.SPECS) == {
        "pending_documents", "document_pdf", "lock_document", "set_status", "statuses", "status_counts",
        "pending_corrections", "lock_correction", "set_correction_status",
    }
    for name, spec in P.SPECS.items():
        assert P.DEFAULT_QUERIES[name].count("?") == len(spec.params), name
    assert "WITH LOCK" in P.DEFAULT_QUERIES["lock_document"].upper()


def test_from_settings_merges_overrides():
    sql = "SELECT ID, NAZWA FROM MOJE_STATUSY"
    prof = Profile.from_settings(types.SimpleNamespace(queries={"statuses": sql + ";"}))
    assert prof.sql("statuses") == sql
    assert prof.overridden == {"statuses"}
    assert prof.sql("document_pdf") == P.DEFAULT_QUERIES["document_pdf"]


def test_from_settings_without_queries_attribute_uses_defaults():
    assert dict(Profile.from_settings(types.SimpleNamespace()).queries) == dict(P.DEFAULT_QUERIES)


def test_unknown_statement_name_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError) as info:
        Profile.from_settings(types.SimpleNamespace(queries={"pending_docs": "SELECT 1 FROM RDB$DATABASE"}))
    assert info.value.key == "raks.queries.pending_docs"
    assert "raks.queries.pending_docs" in str(info.value)
    assert isinstance(info.value, ProfileError)


def test_lock_document_override_must_lock():
    with pytest.raises(ProfileError) as info:
        Profile.from_overrides({"lock_document": "SELECT ID_STATUSU FROM GM_FS WHERE TYP_DOK_MAGAZYNOWEGO = ? AND ID = ?"})
    assert info.value.key == "raks.queries.lock_document"
    assert "WITH LOCK" in str(info.value)


def test_empty_override_is_rejected():
    with pytest.raises(ProfileError) as info:
        Profile.from_overrides({"statuses": "  "})
    assert info.value.key == "raks.queries.statuses"


def test_profile_is_immutable():
    prof = Profile.default()
    with pytest.raises(TypeError):
        prof.queries["statuses"] = "x"  # type: ignore[index]


def test_corrections_use_their_own_statements_with_the_same_outputs():
    assert P.statement_for("pending_documents", "KS") == "pending_corrections"
    assert P.statement_for("lock_document", "KS") == "lock_correction"
    assert P.statement_for("set_status", "KS") == "set_correction_status"
    assert P.statement_for("document_pdf", "KS") == "document_pdf"  # GM_PDF keyed by type 'KS'
    assert P.statement_for("pending_documents", "FS") == "pending_documents"
    fs_outputs = set(P.SPECS["pending_documents"].outputs) - {"TYP"}
    assert fs_outputs < set(P.SPECS["pending_corrections"].outputs)
    assert "FS_NUMER" in P.SPECS["pending_corrections"].outputs


def test_a_lock_correction_override_without_with_lock_is_refused():
    from agent.raks.errors import ProfileError
    with pytest.raises(ProfileError) as err:
        P.Profile.from_settings(type("S", (), {"queries": {"lock_correction": "SELECT ID_STATUSU FROM GM_KS WHERE ID = ?"}})())
    assert "WITH LOCK" in str(err.value)
