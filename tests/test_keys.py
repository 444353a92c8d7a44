import base64
import stat

import pytest

from minimizer.errors import KeyMaterialError
from minimizer.keys import KeyRing, load_keyring


def test_no_key_is_refused_with_guidance():
    with pytest.raises(KeyMaterialError, match=r"MINIMIZER_MASTER_KEY.*minimizer keys init"):
        load_keyring({})


def test_a_short_key_is_refused_without_echoing_it():
    short = base64.b64encode(b"x" * 31).decode()
    with pytest.raises(KeyMaterialError, match="31 bytes; at least 32") as info:
        load_keyring({"MINIMIZER_MASTER_KEY": short})
    assert short not in str(info.value)


def test_a_key_that_is_not_base64_is_refused():
    with pytest.raises(KeyMaterialError, match="base64"):
        load_keyring({"MINIMIZER_MASTER_KEY": "not base64 at all!!"})


def test_env_key_with_version():
    key = base64.b64encode(bytes(32)).decode()
    ring = load_keyring({"MINIMIZER_MASTER_KEY": key, "MINIMIZER_KEY_VERSION": "3"})
    assert ring.current == 3 and ring.purpose_key("p").version == 3


def test_key_file_round_trip_is_private(tmp_path):
    path = tmp_path / "k" / "keys.json"
    ring = KeyRing.new()
    ring.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_keyring({"MINIMIZER_KEY_FILE": str(path)})
    assert again.purpose_key("p").secret == ring.purpose_key("p").secret


def test_purposes_get_distinct_keys_and_reprs_hide_secrets(keyring):
    a, b = keyring.purpose_key("a"), keyring.purpose_key("b")
    assert a.secret != b.secret
    assert a.secret.hex() not in repr(a) and "hidden" in repr(a)
    assert "masters" not in repr(keyring)


def test_rotation_and_retirement(tmp_path, keyring):
    old = keyring.purpose_key("p")
    assert keyring.rotate() == 2
    assert keyring.purpose_key("p").secret != old.secret
    assert keyring.purpose_key("p", 1).secret == old.secret
    keyring.retire(1)
    with pytest.raises(KeyMaterialError, match="not available"):
        keyring.purpose_key("p", 1)
    with pytest.raises(KeyMaterialError, match="current key version cannot be retired"):
        keyring.retire(2)
    keyring.save(tmp_path / "k.json")
    reloaded = KeyRing.from_file(tmp_path / "k.json")
    assert reloaded.live_versions == [2]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_key_ring_others_can_access_is_refused_with_the_fix(tmp_path, mode):
    path = tmp_path / "keys.json"
    KeyRing.new().save(path)
    path.chmod(mode)
    with pytest.raises(KeyMaterialError) as info:
        load_keyring({"MINIMIZER_KEY_FILE": str(path)})
    assert f"mode {mode:04o}" in str(info.value)
    assert f"chmod 600 {path}" in str(info.value)
    path.chmod(0o600)
    assert load_keyring({"MINIMIZER_KEY_FILE": str(path)}).current == 1
    path.chmod(0o400)  # read-only for the owner is private too
    assert load_keyring({"MINIMIZER_KEY_FILE": str(path)}).current == 1


def test_retiring_keeps_only_the_erasure_and_ledger_secrets_and_they_survive_a_reload(
    tmp_path, keyring
):
    erasure_v1 = keyring.secret_for("erasure", 1)
    ledger_v1 = keyring.secret_for("privacy_ledger", 1)
    canary_v1 = keyring.secret_for("canary", 1)
    keyring.rotate()
    keyring.retire(1)
    keyring.save(tmp_path / "k.json")
    again = KeyRing.from_file(tmp_path / "k.json")
    assert again.secret_for("erasure", 1) == erasure_v1  # the erasure list stays checkable
    assert again.versions_for("erasure") == [1, 2] and again.live_versions == [2]
    assert again.secret_for("privacy_ledger", 1) == ledger_v1  # released days stay checkable
    with pytest.raises(KeyMaterialError, match="not available"):
        again.secret_for("canary", 1)  # nothing else of version 1 is left
    with pytest.raises(KeyMaterialError, match="not available"):
        again.purpose_key("p", 1)
    text = (tmp_path / "k.json").read_text()
    assert base64.urlsafe_b64encode(canary_v1).decode() not in text
    # The kept secret is not the master: nothing in the file derives version 1's tokens.
    assert again.masters[1] == b""


# -- token schemes: the scheme belongs to the key version ---------------------------------


def test_a_new_ring_and_a_rotation_make_aes_cmac_versions_and_a_file_keeps_them(tmp_path):
    ring = KeyRing.new()
    assert ring.scheme() == "aes-cmac" and ring.purpose_key("p").scheme == "aes-cmac"
    ring.save(tmp_path / "k.json")
    again = KeyRing.from_file(tmp_path / "k.json")
    assert again.schemes == {1: "aes-cmac"} and again.purpose_key("p").scheme == "aes-cmac"


def test_a_ring_written_before_schemes_existed_stays_blake2b_until_rotated(tmp_path):
    path = tmp_path / "old.json"
    key = base64.urlsafe_b64encode(bytes(range(32))).decode()
    path.write_text(f'{{"format": "minimizer-keyring/1", "current": 1, "keys": {{"1": "{key}"}}}}')
    path.chmod(0o600)
    ring = KeyRing.from_file(path)
    assert ring.purpose_key("p").scheme == "blake2b"
    assert ring.rotate() == 2
    assert ring.purpose_key("p").scheme == "aes-cmac"
    assert ring.purpose_key("p", 1).scheme == "blake2b"  # the old version keeps its scheme
    ring.save(path)
    assert '"schemes"' in path.read_text() and KeyRing.from_file(path).scheme(1) == "blake2b"


def test_an_unknown_scheme_in_a_key_file_is_named_with_the_known_ones(tmp_path):
    path = tmp_path / "k.json"
    KeyRing.new().save(path)
    path.write_text(path.read_text().replace('"aes-cmac"', '"md5"'))
    with pytest.raises(
        KeyMaterialError,
        match=r"unknown token scheme \(a text of 3 characters\); known: blake2b, aes-cmac",
    ):
        KeyRing.from_file(path)


def test_an_environment_key_keeps_blake2b_unless_told():
    key = base64.b64encode(bytes(32)).decode()
    assert load_keyring({"MINIMIZER_MASTER_KEY": key}).purpose_key("p").scheme == "blake2b"
    told = {"MINIMIZER_MASTER_KEY": key, "MINIMIZER_TOKEN_SCHEME": "aes-cmac"}
    assert load_keyring(told).purpose_key("p").scheme == "aes-cmac"
    with pytest.raises(KeyMaterialError, match="MINIMIZER_TOKEN_SCHEME"):
        load_keyring({"MINIMIZER_MASTER_KEY": key, "MINIMIZER_TOKEN_SCHEME": "sha1"})
