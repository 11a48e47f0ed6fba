import pytest

from app.domain.text import EMAIL_MAX, NAME_MAX, TELEPHONE_MAX, ZIP_MAX, optional_email, optional_text, required_text
from tests.unit.factories import bad_input


def test_limits_are_those_of_the_contract():
    assert (NAME_MAX, ZIP_MAX, TELEPHONE_MAX, EMAIL_MAX) == (200, 20, 50, 254)


def test_required_text_is_trimmed():
    assert required_text("  Anna Schmidt \t\n", "name") == "Anna Schmidt"


def test_required_text_keeps_inner_spaces():
    assert required_text(" TV  Hamm ", "club") == "TV  Hamm"


@pytest.mark.parametrize("blank", ["", " ", "   ", "\t", "\n \r\n", "\u00a0\u2003"])
def test_blank_required_text_is_invalid_text(blank):
    with bad_input("INVALID_TEXT"):
        required_text(blank, "name")


def test_blank_message_names_the_field():
    with bad_input("INVALID_TEXT") as info:
        required_text("  ", "club")
    assert "club" in info.value.message


def test_name_of_exactly_200_characters_passes():
    assert required_text("x" * 200, "name") == "x" * 200


def test_name_of_201_characters_is_invalid_text():
    with bad_input("INVALID_TEXT") as info:
        required_text("x" * 201, "name")
    assert "200" in info.value.message


def test_length_limit_applies_after_trimming():
    assert required_text("  " + "x" * 200 + "  ", "name") == "x" * 200


@pytest.mark.parametrize(("limit", "field"), [(20, "zip"), (50, "telephone"), (200, "city"), (200, "street")])
def test_text_at_its_limit_passes_and_one_over_is_invalid(limit, field):
    assert required_text("1" * limit, field, limit) == "1" * limit
    with bad_input("INVALID_TEXT"):
        required_text("1" * (limit + 1), field, limit)


def test_optional_empty_string_means_absent():
    assert optional_text("", "telephone", TELEPHONE_MAX) is None


def test_optional_none_means_absent():
    assert optional_text(None, "telephone", TELEPHONE_MAX) is None


def test_optional_whitespace_only_trims_to_empty_and_means_absent():
    assert optional_text("   ", "telephone", TELEPHONE_MAX) is None


def test_optional_text_is_trimmed():
    assert optional_text(" +49 30 1234 ", "telephone", TELEPHONE_MAX) == "+49 30 1234"


def test_optional_text_over_its_limit_is_invalid_text():
    assert optional_text("1" * 50, "telephone", TELEPHONE_MAX) == "1" * 50
    with bad_input("INVALID_TEXT"):
        optional_text("1" * 51, "telephone", TELEPHONE_MAX)


@pytest.mark.parametrize(
    "email",
    [
        "anna@example.org",
        "a@b.co",
        "anna.schmidt+whistle@mail.example.co.uk",
        "ANNA@EXAMPLE.ORG",
    ],
)
def test_valid_email_passes_unchanged(email):
    assert optional_email(email) == email


def test_email_is_trimmed():
    assert optional_email("  anna@example.org \n") == "anna@example.org"


@pytest.mark.parametrize("absent", [None, "", "   "])
def test_absent_email_means_none(absent):
    assert optional_email(absent) is None


@pytest.mark.parametrize(
    "email",
    [
        "anna.example.org",  # no @
        "anna@@example.org",  # two @
        "an@na@example.org",  # two @
        "anna@example",  # no dot in the domain
        "anna.schmidt@example",  # the dot is in the local part only
        "an na@example.org",  # space in the local part
        "anna@exa mple.org",  # space in the domain
        "anna@example.org anna@example.org",
        "anna\t@example.org",
        "@example.org",  # empty local part
        "anna@.org",  # empty domain label
        "anna@example.",  # empty top-level domain
    ],
)
def test_malformed_email_is_invalid_email(email):
    with bad_input("INVALID_EMAIL"):
        optional_email(email)


def _email_of_length(n: int) -> str:
    domain = "@example.org"
    return "a" * (n - len(domain)) + domain


def test_email_of_exactly_254_characters_passes():
    email = _email_of_length(254)
    assert len(email) == 254
    assert optional_email(email) == email


def test_email_over_254_characters_is_invalid_email():
    with bad_input("INVALID_EMAIL"):
        optional_email(_email_of_length(255))
