import pytest
from argon2 import PasswordHasher, Type

from iotwarden.auth import passwords
from iotwarden.auth.passwords import (
    ARGON2_MEMORY_COST_KIB,
    ARGON2_PARALLELISM,
    ARGON2_TIME_COST,
    PasswordPolicy,
    WeakPasswordError,
    check_password,
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_dummy,
    verify_dummy_async,
    verify_password,
    verify_password_async,
)

GOOD = "violet tractor umbrella"


@pytest.fixture(scope="module")
def good_hash() -> str:
    return hash_password(GOOD)


def test_round_trip(good_hash: str) -> None:
    assert good_hash.startswith("$argon2id$")
    assert f"m={ARGON2_MEMORY_COST_KIB},t={ARGON2_TIME_COST},p={ARGON2_PARALLELISM}" in good_hash
    assert verify_password(good_hash, GOOD)
    assert not needs_rehash(good_hash)


def test_salted(good_hash: str) -> None:
    assert hash_password(GOOD) != good_hash


def test_wrong_password(good_hash: str) -> None:
    assert not verify_password(good_hash, GOOD + "x")
    assert not verify_password(good_hash, "")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not a hash",
        "$argon2id$v=19$m=19456,t=2,p=1$garbage",
        "$2b$12$abcdefghijklmnopqrstuuNhQ3pUB7ZkSxqgGZ9mDXQsBNgz0uI2q",
        "$argon2id$v=19$m=19456,t=2,p=1$sälz$häsh",
    ],
)
def test_malformed_hash_is_false(bad: str) -> None:
    assert not verify_password(bad, GOOD)
    assert needs_rehash(bad)


def test_unencodable_password_is_false(good_hash: str) -> None:
    assert not verify_password(good_hash, "\ud800" * 20)


def test_needs_rehash_for_weaker_params() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID)
    old_hash = weak.hash(GOOD)
    assert needs_rehash(old_hash)
    # Older hashes must keep working until the user logs in and is rehashed.
    assert verify_password(old_hash, GOOD)


def test_argon2i_hash_needs_rehash() -> None:
    old = PasswordHasher(
        time_cost=ARGON2_TIME_COST,
        memory_cost=ARGON2_MEMORY_COST_KIB,
        parallelism=ARGON2_PARALLELISM,
        type=Type.I,
    )
    assert needs_rehash(old.hash(GOOD))


def test_nfkc_normalized_consistently() -> None:
    # U+FB01 LATIN SMALL LIGATURE FI is NFKC-equivalent to "fi".
    h = hash_password("\ufb01ve little wolves")
    assert verify_password(h, "five little wolves")
    # Composed and decomposed accents are the same password.
    h = hash_password("caf\u00e9 au lait please")
    assert verify_password(h, "cafe\u0301 au lait please")


def test_dummy_hash_matches_current_parameters() -> None:
    # A stale dummy would make unknown-account logins cheaper than real ones.
    assert not needs_rehash(passwords._DUMMY_HASH)


def test_verify_dummy_never_raises() -> None:
    verify_dummy(GOOD)
    verify_dummy("\ud800")


async def test_async_wrappers() -> None:
    h = await hash_password_async(GOOD)
    assert await verify_password_async(h, GOOD)
    assert not await verify_password_async(h, "wrong password here")
    await verify_dummy_async(GOOD)


def test_length_14_rejected() -> None:
    with pytest.raises(WeakPasswordError, match="at least 15"):
        check_password("h" * 13 + "q")


def test_length_15_accepted() -> None:
    check_password("hjqwvkzpxmtrbnl")


def test_length_256_accepted() -> None:
    check_password("hjqwvkzpxmtrbnl" * 17 + "a")


def test_length_257_rejected() -> None:
    with pytest.raises(WeakPasswordError, match="at most 256"):
        check_password("hjqwvkzpxmtrbnl" * 17 + "ab")


def test_unicode_counted_by_code_points() -> None:
    # 15 emoji are 60 UTF-8 bytes but 15 characters.
    check_password("\U0001f511" * 14 + "\U0001f512")
    with pytest.raises(WeakPasswordError, match="at least 15"):
        check_password("\U0001f511" * 13 + "\U0001f512")


def test_unicode_counted_after_nfkc() -> None:
    # "e" + COMBINING ACUTE is two code points raw but one after NFKC.
    decomposed = "e\u0301" * 6 + "ordre"
    assert len(decomposed) == 17
    with pytest.raises(WeakPasswordError, match="at least 15"):
        check_password(decomposed)


def test_lone_surrogate_rejected() -> None:
    with pytest.raises(WeakPasswordError):
        check_password("\ud800" * 20)


@pytest.mark.parametrize("common", ["qwertyuiop12345", "QwertyUiop12345", "1qaz2wsx3edc4rfv"])
def test_common_long_password_rejected(common: str) -> None:
    with pytest.raises(WeakPasswordError, match="too common"):
        check_password(common)


def test_common_list_loaded_lowercase_and_nonempty() -> None:
    common = passwords._common_passwords()
    assert len(common) > 30_000
    assert "password" in common
    assert "" not in common
    assert all(p == p.lower() for p in common)


@pytest.mark.parametrize(
    "pw",
    ["averylongname.user@example.com", "AveryLongName.User@Example.com", "averylongname.user"],
)
def test_email_rejected(pw: str) -> None:
    with pytest.raises(WeakPasswordError, match="email"):
        check_password(pw, email="AVeryLongName.User@example.com")


def test_email_only_blocks_itself() -> None:
    check_password("averylongname.user", email="someone.else@example.com")


def test_no_composition_rules() -> None:
    # Only lowercase letters, no digits or symbols: fine if long and uncommon.
    check_password("mqzvtrplkwhsbnd")
    check_password("purple elephant drums quietly")


def test_custom_policy() -> None:
    policy = PasswordPolicy(min_length=20)
    with pytest.raises(WeakPasswordError, match="at least 20"):
        policy.check("hjqwvkzpxmtrbnl")


def test_error_is_value_error() -> None:
    assert issubclass(WeakPasswordError, ValueError)
