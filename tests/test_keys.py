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
