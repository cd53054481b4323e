"""A hub model that is not cached on a machine without internet fails fast with one clear message."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = (
    "import time\n"
    "from threekcal.model import ModelError, load_classifier\n"
    "started = time.monotonic()\n"
    "try:\n"
    "    load_classifier('michellejieli/emotion_text_classifier', 'torch')\n"
    "except ModelError as error:\n"
    "    print(f'{time.monotonic() - started:.3f}')\n"
    "    print(error)\n"
    "else:\n"
    "    raise SystemExit('loaded although nothing is cached')\n"
)
# "Within seconds" means: not through transformers' own retry loop, which takes about 26 s here. Only the
# load call is timed (inside the probe), so interpreter start and imports on a loaded machine do not count.
LOAD_BOUND_S = 20
HANG_GUARD_S = 120  # the probe as a whole: only against a hang, with headroom for a loaded machine


def _run_offline(tmp_path: Path, **env: str) -> str:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "THREEKCAL_"))}
    clean |= {"HF_HOME": str(tmp_path / "hf-home"), "THREEKCAL_CACHE_DIR": str(tmp_path / "cache"), **env}
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=clean,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert not (tmp_path / "hf-home" / "hub" / "models--michellejieli--emotion_text_classifier").exists()
    seconds, message = completed.stdout.split("\n", 1)
    assert float(seconds) < LOAD_BOUND_S, f"loading failed only after {seconds} s"
    return message


def test_hub_offline_set(tmp_path: Path) -> None:
    message = _run_offline(tmp_path, HF_HUB_OFFLINE="1")
    assert "THREEKCAL_MODEL" in message and "HF_HUB_OFFLINE" in message
    assert "michellejieli/emotion_text_classifier" in message and "not in the Hugging Face cache" in message


def test_hub_unreachable(tmp_path: Path) -> None:
    # Nothing listens on this port: the connection is refused at once.
    message = _run_offline(tmp_path, HF_ENDPOINT="http://127.0.0.1:9")
    assert "THREEKCAL_MODEL" in message and "HF_HUB_OFFLINE" in message and "cannot be reached" in message


@pytest.mark.slow
def test_hub_that_never_answers(tmp_path: Path) -> None:
    # A server that accepts connections and never answers: only the probe's timeout ends the wait.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        message = _run_offline(tmp_path, HF_ENDPOINT=f"http://127.0.0.1:{server.getsockname()[1]}")
    assert "THREEKCAL_MODEL" in message and "HF_HUB_OFFLINE" in message and "Timeout" in message
