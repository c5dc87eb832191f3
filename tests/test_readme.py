"""Every code block of README.md, kept true by the suite: the Python blocks run as written (in a folder holding the
sample photos the first command fetches); every pcnn-fer and torchrun command line parses with the real parser,
its recipe files exist and load; every curl line names a route of the server and query parameters it takes."""

from __future__ import annotations

import re
import runpy
import shlex
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from pcnn_fer.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def _command_lines(prefixes: tuple[str, ...]) -> list[str]:
    """Each command of the bash blocks that starts with one of `prefixes`: continuations joined, comments cut."""
    commands = []
    for block in _blocks("bash"):
        for command in block.replace("\\\n", " ").splitlines():
            words = shlex.split(command, comments=True)
            for start in range(len(words)):  # "python3 -m pip ... && pcnn-fer ...": each part of a chain
                if words[start] in prefixes and (start == 0 or words[start - 1] == "&&"):
                    end = next((i for i in range(start, len(words)) if words[i] in ("&&", ">", ";")), len(words))
                    commands.append(" ".join(shlex.quote(w) for w in words[start:end]))
    return commands


PYTHON_BLOCKS = _blocks("python")
PCNN_COMMANDS = _command_lines(("pcnn-fer", "torchrun"))
CURL_COMMANDS = _command_lines(("curl",))


def test_the_readme_has_the_blocks_these_tests_read():
    assert len(PYTHON_BLOCKS) >= 3 and len(PCNN_COMMANDS) >= 20 and len(CURL_COMMANDS) >= 8
    assert any("Pretrained.DEFAULT.load()" in block for block in PYTHON_BLOCKS)


@pytest.mark.network
@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda block: block.splitlines()[1][:40])
def test_each_python_block_runs_as_written(block, pyfeat_data, tmp_path, monkeypatch):
    shutil.copytree(pyfeat_data, tmp_path / "photos")
    script = tmp_path / "block.py"
    script.write_text(block)
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(script), run_name="__main__")


@pytest.mark.parametrize("command", PCNN_COMMANDS)
def test_each_command_line_parses_and_its_recipe_loads(command):
    words = shlex.split(command)
    if words[0] == "torchrun":  # torchrun [its flags] -m pcnn_fer ARGS
        assert words[words.index("-m") + 1] == "pcnn_fer"
        words = words[words.index("-m") + 2:]
    else:
        words = words[1:]
    args = build_parser().parse_args(words)  # a wrong flag or value exits here
    if getattr(args, "config", None):
        from pcnn_fer.engine.config import load_config

        load_config(ROOT / args.config)


@pytest.fixture(scope="module")
def routes(tiny_model_dir, require_module) -> dict[str, set[str]]:
    """Each route of the server (path with {parameters} as a pattern) -> the query parameters it takes."""
    require_module("fastapi", "serve")
    from pcnn_fer.inference.recognizer import Recognizer
    from pcnn_fer.models.storage import load_model
    from pcnn_fer.serve.app import create_app

    app = create_app(Recognizer(load_model(tiny_model_dir), detector="none"))
    routes = {re.sub(r"\{\w+\}", "[^/]+", path): {parameter["name"] for operation in methods.values()
                                                  for parameter in operation.get("parameters", [])
                                                  if parameter["in"] == "query"}
              for path, methods in app.openapi()["paths"].items()}  # the API as its documentation states it
    app.state.context.close()
    return routes


@pytest.mark.parametrize("command", CURL_COMMANDS)
def test_each_curl_line_names_a_route_and_its_query_parameters(command, routes):
    url = next(word for word in shlex.split(command) if word.startswith("http"))
    parts = urlsplit(url.replace("<id>", "job"))
    matching = [pattern for pattern in routes if re.fullmatch(pattern, parts.path)]
    assert matching, f"{parts.path} is no route of the server"
    assert set(parse_qs(parts.query)) <= routes[matching[0]], f"{url}: a query parameter the route does not take"
