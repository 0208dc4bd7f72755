"""The proposal's pure parts: status roles from names, settings built from the choices."""


def test_status_roles_from_polish_names():
    from agent.raks.propose import status_roles

    names = {1: "Nowy", 2: "Do wysłania", 3: "Wysłany do BaseLinker", 4: "Błąd wysyłki"}
    assert status_roles(names) == {"to_send": 2, "after_send": 3, "on_error": 4}
    assert status_roles({5: "Do wysyłki do BL", 6: "Wysłano"}) == {"to_send": 5, "after_send": 6}
    assert status_roles({1: "Otwarty", 2: "Zamknięty"}) == {}


def test_an_error_status_missing_from_the_new_dictionary_is_replaced():
    from agent.raks.propose import Choice, Proposal, build_changes
    from agent.settings import RaksSettings

    names = {10: "Nowy", 20: "Do wysłania", 30: "Wysłany", 40: "Błąd wysyłki"}
    st = Choice("column", "GM_FS.STAN", 6, [], {"table": "GM_FS", "column": "STAN", "dictionary": ("SL", "ID", "NAZWA"),
                                                "names": names})
    changes = build_changes(Proposal([st], [], []), RaksSettings(status_on_error=4))
    assert changes["raks.status_on_error"] == 40 and changes["raks.statuses_to_send"] == [20]
    assert "raks.status_on_error" not in build_changes(Proposal([st], [], []), RaksSettings(status_on_error=0))


def test_status_names_are_words_not_fragments():
    from agent.raks.propose import _is_status_name

    assert _is_status_name("ID_STATUSU") and _is_status_name("STAN_BL") and _is_status_name("STAN")
    assert not _is_status_name("ID_STANOWISKA") and not _is_status_name("DOSTAWA")


def test_render_says_when_the_roles_are_not_recognised():
    from agent.raks.propose import Choice, Proposal, build_changes, render
    from agent.settings import RaksSettings

    st = Choice("column", "GM_FS.STAN", 6, ["GM_FS.STAN: INTEGER"],
                {"table": "GM_FS", "column": "STAN", "dictionary": None, "names": {1: "Status 1", 2: "Status 2"}})
    prop = Proposal([st], [], [], statuses=[(1, "Status 1"), (2, "Status 2")])
    changes = build_changes(prop, RaksSettings())
    assert "raks.statuses_to_send" not in changes  # nothing guessed from names that say nothing
    assert "SELECT DISTINCT s.STAN AS ID" in changes["raks.queries.statuses"]  # no dictionary table
    text = render(prop, changes)
    assert "wybrano: GM_FS.STAN" in text and "nie znaleziono" in text  # no PDF, no order id candidates
