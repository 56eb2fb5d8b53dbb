"""The README a student opens stays short and its commands exist."""
import re
import subprocess

from helpers import config

README = config.REPO_ROOT / "README.md"


def test_readme_is_under_200_lines():
    assert len(README.read_text().splitlines()) < 200


def test_quick_start_has_two_commands_and_make_knows_them():
    text = README.read_text()
    block = text[text.index("## Quick start"):]
    block = block[block.index("```bash") + 7:block.index("```", block.index("```bash") + 7)]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]
    for target in ("run", "test", "benchmark", "colab"):
        assert subprocess.run(["make", "-n", target, "REPO=a/b"], cwd=config.REPO_ROOT,
                              capture_output=True).returncode == 0, target


def test_readme_links_point_at_files_that_exist():
    for target in re.findall(r"\]\(((?!https?:|#)[^)]+)\)", README.read_text()):
        assert (config.REPO_ROOT / target).exists(), target
