"""`vesta serve` configuration: a config file, VESTA_* environment variables and
flags, in that order of precedence (a later source wins), observed through
the effective --max-limit of a running server."""

import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("VESTA_BINARY", os.path.join(ROOT, "build", "app", "vesta"))


class Server:
    def __init__(self, args, env):
        self.proc = subprocess.Popen([BINARY, "serve", "--port", "0", "--threads", "1",
                                      "--storage", "memory", *args],
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.lines = []
        self.url = None
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            match = re.search(r"listening on (http://[0-9.]+:[0-9]+)", line)
            if match:
                self.url = match.group(1)
                break
        threading.Thread(target=lambda: self.lines.extend(self.proc.stderr), daemon=True).start()

    def call(self, method, path, body):
        req = urllib.request.Request(self.url + path, method=method, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def stop(self):
        self.proc.terminate()
        assert self.proc.wait(timeout=30) == 0


def effective_max_limit(server):
    """The largest limit the server accepts, probed between 1 and 20."""
    assert server.call("PUT", "/collections/c", {"vectors": {"size": 2, "distance": "Dot"}}) == 200
    accepted = [limit for limit in range(1, 21)
                if server.call("POST", "/collections/c/points/search",
                               {"vector": [1, 0], "limit": limit}) == 200]
    return max(accepted)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VESTA_") or k == "VESTA_BINARY"}
    env.update(extra)
    return env


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "vesta.conf"
    path.write_text("# a comment\n\nmax_limit = 5\naccess-log = \"off\"\n")
    return str(path)


@pytest.mark.parametrize("env_limit,flag_limit,expected", [
    (None, None, 5),   # the config file alone
    ("7", None, 7),    # the environment wins over the file
    ("7", "9", 9),     # the command line wins over both
])
def test_precedence_flags_over_environment_over_config_file(config_file, env_limit, flag_limit,
                                                            expected):
    extra = {"VESTA_CONFIG": config_file}
    if env_limit:
        extra["VESTA_MAX_LIMIT"] = env_limit
    args = ["--max-limit", flag_limit] if flag_limit else []
    server = Server(args, clean_env(**extra))
    assert server.url, "".join(server.lines)
    try:
        assert effective_max_limit(server) == expected
        log = "".join(server.lines)
        assert "settings from config file " + config_file in log
        if env_limit:
            assert "environment VESTA_MAX_LIMIT" in log
    finally:
        server.stop()


def test_config_flag_and_unknown_setting_naming_its_line(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("port = 0\nno_such_option = 1\n")
    proc = subprocess.run([BINARY, "serve", "--config", str(bad)], env=clean_env(),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert f"{bad}:2: unknown setting 'no-such-option'" in proc.stderr


def test_bad_environment_value_names_the_option():
    proc = subprocess.run([BINARY, "serve", "--port", "0"], env=clean_env(VESTA_MAX_LIMIT="lots"),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "--max-limit" in proc.stderr and "lots" in proc.stderr


@pytest.mark.parametrize("option,value,words", [
    ("--max-body-bytes", "1", "must be from 1K to 1T"),
    ("--max-upload-bytes", "lots", "must be at least 1K"),
    ("--max-import-bytes", "100", "must be at least 1K"),
    ("--gpu-scratch-bytes", "1K", "must be at least 1M"),
    ("--graph-statement-bytes", "2G", "must be from 256 bytes to 1G"),
])
def test_a_bad_byte_size_names_the_option_its_range_and_the_value(option, value, words):
    proc = subprocess.run([BINARY, "serve", "--port", "0", option, value], env=clean_env(),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert f"{option} {words}, in bytes or with a K/M/G/T suffix, got '{value}'" in proc.stderr
