"""deploy/Dockerfile: multi-stage, wheel-built, non-root, the `hub` entrypoint."""

from __future__ import annotations

import json
import re
import tomllib

import pytest

from tests.deploy.files import DEPLOY, ROOT, Instruction, dockerfile, hub_commands

DOCKERFILE = DEPLOY / "Dockerfile"


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return dockerfile(DOCKERFILE)


def _final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def _arg_defaults(instructions: list[Instruction]) -> dict[str, str]:
    defaults: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "ARG" and "=" in ins.args:
            name, _, value = ins.args.partition("=")
            defaults[name.strip()] = value.strip()
    return defaults


def _env(instructions: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "ENV":
            for word in ins.words():
                name, sep, value = word.partition("=")
                assert sep, f"use ENV NAME=value, not the legacy form: ENV {ins.args}"
                env[name] = value
    return env


def test_is_multi_stage_on_a_slim_python_311_or_newer(instructions: list[Instruction]) -> None:
    froms = [i for i in instructions if i.keyword == "FROM"]
    assert len(froms) >= 2, "build the wheel in one stage, install it in another"
    args = _arg_defaults([i for i in instructions if i.stage == -1])
    for ins in froms:
        image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), ins.words()[0])
        match = re.fullmatch(r"python:3\.(\d+)-slim(-\w+)?(@sha256:[0-9a-f]+)?", image)
        assert match, f"base image {image!r} is not a slim Python image"
        assert int(match.group(1)) >= 11, f"{image}: the hub needs Python 3.11+"
    stage_names = [i.words()[2] for i in froms if len(i.words()) == 3]
    assert len(stage_names) == len(froms), "name every stage (FROM ... AS name)"


def test_runtime_installs_the_wheel_built_in_an_earlier_stage(
    instructions: list[Instruction],
) -> None:
    build_stage = [i for i in instructions if 0 <= i.stage < max(x.stage for x in instructions)]
    assert any(i.keyword == "RUN" and "pip wheel" in i.args for i in build_stage)
    final = _final_stage(instructions)
    stage_names = {i.words()[2] for i in instructions if i.keyword == "FROM"}
    installs = [i for i in final if i.keyword == "RUN" and "pip install" in i.args]
    assert installs, "the runtime stage installs the hub"
    for ins in installs:
        assert "--no-index" in ins.args, "install only the wheels that were built"
        sources = set(re.findall(r"from=([\w.-]+)", ins.args))
        assert sources & stage_names, "the wheels come from a build stage"


def test_no_editable_install_and_no_dev_extras(instructions: list[Instruction]) -> None:
    for ins in instructions:
        if ins.keyword == "RUN":
            assert not re.search(r"pip install\b.*(\s-e\s|--editable)", ins.args), ins.args
            assert "[dev]" not in ins.args, ins.args


def test_runs_as_a_numeric_non_root_user(instructions: list[Instruction]) -> None:
    users = [i for i in _final_stage(instructions) if i.keyword == "USER"]
    assert users, "the runtime stage must switch to a non-root USER"
    user, _, group = users[-1].args.partition(":")
    # numeric, so Kubernetes can check runAsNonRoot against the image
    assert user.isdigit() and int(user) != 0, f"USER {users[-1].args}"
    assert not group or (group.isdigit() and int(group) != 0), f"USER {users[-1].args}"
    last_user = max(n for n, i in enumerate(instructions) if i.keyword == "USER")
    assert not any(i.keyword == "RUN" for i in instructions[last_user:]), (
        "nothing runs as root after USER"
    )


def test_entrypoint_is_hub_and_cmd_a_hub_command(instructions: list[Instruction]) -> None:
    final = _final_stage(instructions)
    entrypoint = [i for i in final if i.keyword == "ENTRYPOINT"]
    assert entrypoint and json.loads(entrypoint[-1].args) == ["hub"]
    cmd = [i for i in final if i.keyword == "CMD"]
    assert cmd, "a default command"
    assert json.loads(cmd[-1].args)[0] in hub_commands()


def test_healthcheck_probes_the_ingress(instructions: list[Instruction]) -> None:
    checks = [i for i in _final_stage(instructions) if i.keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "CMD" in checks[0].words() and "/healthz" in checks[0].args
    assert "--interval=" in checks[0].args and "--timeout=" in checks[0].args


def test_workflows_are_copied_in_and_configured(instructions: list[Instruction]) -> None:
    final = _final_stage(instructions)
    env = _env(final)
    assert env.get("HUB_WORKFLOWS") == "/app/workflows"
    copies = [i.words() for i in final if i.keyword == "COPY"]
    assert any(
        w[0].rstrip("/") == "workflows" and w[-1].rstrip("/") == "/app/workflows" for w in copies
    )
    # containers must listen beyond loopback
    assert env.get("HUB_INGRESS_HOST") == "0.0.0.0"
    assert env.get("HUB_FLOWER_HOST") == "0.0.0.0"


def test_copy_sources_exist_in_the_build_context(instructions: list[Instruction]) -> None:
    for ins in instructions:
        if ins.keyword not in ("COPY", "ADD"):
            continue
        words = [w for w in ins.words() if not w.startswith("--")]
        if any(w.startswith("--from") for w in ins.words()):
            continue
        for source in words[:-1]:
            assert (ROOT / source).exists(), f"{ins.keyword} {ins.args}: {source} is missing"


def test_the_wheel_carries_every_package_file() -> None:
    """The image builds its wheel without git metadata, so package data must be declared."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = pyproject.get("tool", {}).get("setuptools", {}).get("package-data", {})
    copied = [
        i.words()[0].rstrip("/")
        for i in dockerfile(DOCKERFILE)
        if i.keyword == "COPY" and not i.args.startswith("--")
    ]
    stray = [
        str(p.relative_to(ROOT))
        for package in ("hub", "connectors")
        if package in copied
        for p in (ROOT / package).rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert not stray or declared, (
        f"non-Python files the wheel would leave out (declare package-data): {stray}"
    )
