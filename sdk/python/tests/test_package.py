"""The package builds as a wheel that installs with pip in a fresh virtual environment."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

from conftest import PRICES_JSON

SDK = Path(__file__).resolve().parents[1]


def run(*cmd: str | Path, cwd: Path | None = None) -> str:
    out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, timeout=540)
    assert out.returncode == 0, f"{cmd} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def test_wheel_installs_in_a_fresh_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist, SDK)
    (wheel,) = dist.glob("agentpulse-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert {"agentpulse/py.typed", "agentpulse/prices.json", "agentpulse/instruments/langchain.py"} <= names
        assert z.read("agentpulse/prices.json") == PRICES_JSON.read_bytes()
        metadata = z.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Requires-Dist: httpx" in metadata
    for extra in ("openai", "anthropic", "langchain", "all"):
        assert f"Provides-Extra: {extra}" in metadata
    # httpx is the only dependency outside the extras.
    required = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert len(required) == 1
    assert "httpx" in required[0]

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel)
    app = tmp_path / "app.py"
    app.write_text(
        textwrap.dedent(
            """
            import importlib.resources, json, agentpulse
            agentpulse.init(api_key="console", product="my-bot")
            s = agentpulse.session("user-1")
            s.message("user", "Hello")
            s.llm_call(model="gpt-4o-mini", input_tokens=1000, output_tokens=100)
            agentpulse.shutdown()
            src = importlib.resources.files("agentpulse").joinpath("prices.json")
            print(json.dumps({"file": str(agentpulse.__file__), "prices": src.read_text()}))
            """
        )
    )
    lines = run(python, app, cwd=tmp_path).splitlines()
    events = [json.loads(line) for line in lines[:2]]
    info = json.loads(lines[2])
    assert [e["event_type"] for e in events] == ["message.user", "action.llm_call"]
    assert str(venv) in info["file"]
    assert json.loads(info["prices"]) == json.loads(PRICES_JSON.read_text())
    mini = next(m for m in json.loads(PRICES_JSON.read_text())["models"] if m["model"] == "gpt-4o-mini")
    want = (1000 * mini["input"] + 100 * mini["output"]) / 1e6
    assert abs(events[1]["properties"]["cost_usd"] - want) < 1e-15
