from utils.allocator import MALLOC_CONF, SWITCH, find_jemalloc, jemalloc_environment


def test_environment_preloads_jemalloc_once():
    env = jemalloc_environment({"PATH": "/bin", "LD_PRELOAD": "/opt/other.so"}, "/lib/libjemalloc.so.2")
    assert env["LD_PRELOAD"] == "/lib/libjemalloc.so.2:/opt/other.so"
    assert env["MALLOC_CONF"] == MALLOC_CONF and env["PATH"] == "/bin"
    assert jemalloc_environment(env, "/lib/libjemalloc.so.2") is None  # already loaded: no second re-exec


def test_switch_user_conf_and_missing_library_are_respected():
    assert jemalloc_environment({SWITCH: "0"}, "/lib/libjemalloc.so.2") is None
    assert jemalloc_environment({}, None) is None
    assert jemalloc_environment({"MALLOC_CONF": "narenas:1"}, "/lib/x.so")["MALLOC_CONF"] == "narenas:1"


def test_find_jemalloc_takes_the_first_existing_candidate(tmp_path):
    present = tmp_path / "libjemalloc.so.2"
    present.write_bytes(b"")
    assert find_jemalloc((str(tmp_path / "absent.so"), str(present))) == str(present)
    assert find_jemalloc((str(tmp_path / "absent.so"),)) is None
