"""The README and docs/ as a map that works: every relative link leads to a file (and heading) that exists, and
every `python main.py ...` and `python -m ...` command they show parses (configuration validation only: nothing
is run, read or written)."""
import argparse
import re
import runpy
import shlex
import sys
from pathlib import Path

import pytest

from utils.config.command_line import config_from_args

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
# values that stand for what the reader fills in, as the commands' shell would see them
SHELL_VALUES = {"$seed": "0", "$SLURM_ARRAY_TASK_ID": "0", "${SLURM_ARRAY_TASK_ID}": "0"}


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def links() -> list[tuple[Path, str]]:
    return [(page, target) for page in PAGES for target in LINK.findall(page.read_text(encoding="utf-8"))
            if not target.startswith(("http://", "https://", "mailto:"))]


@pytest.mark.parametrize("page, target", links(), ids=lambda value: str(value))
def test_every_relative_link_leads_somewhere(page, target):
    path, _, fragment = target.partition("#")
    destination = (page.parent / path).resolve() if path else page
    assert destination.exists(), f"{page.name}: {target} does not exist"
    if fragment:
        headings = re.findall(r"(?m)^#+ (.*)$", destination.read_text(encoding="utf-8"))
        assert fragment in {anchor(heading) for heading in headings}, f"{page.name}: no heading #{fragment}"


def test_the_readme_links_every_page_of_the_docs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for page in (REPO / "docs").glob("*.md"):
        assert f"(docs/{page.name})" in readme, page.name


def commands() -> list[tuple[str, str, list[str]]]:
    """(page, "main.py" or the module, arguments) of every command shown in a code block or inline code."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        fences = re.compile(r"(?ms)^```(\w*)\n(.*?)^```")
        blocks = [body for language, body in fences.findall(text) if language in ("", "bash", "sh", "shell")]
        inline = re.findall(r"`([^`\n]*(?:python|torchrun|srun)[^`\n]*)`", fences.sub("", text))
        for chunk in [*blocks, *inline]:
            for line in chunk.replace("\\\n", " ").splitlines():
                lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
                lexer.whitespace_split, lexer.commenters = True, "#"
                tokens, parts = list(lexer), [[]]
                for token in tokens:
                    if set(token) <= set("&|;<>()"):
                        parts.append([])
                    else:
                        parts[-1].append(SHELL_VALUES.get(token, token))
                for words in parts:
                    if not words:
                        continue
                    if "main.py" in words:
                        found.append((page.name, "main.py", words[words.index("main.py") + 1:]))
                    elif "-m" in words and words[0].endswith(("python", "python3")):
                        module = words[words.index("-m") + 1]
                        if module.split(".")[0] in {"preprocess", "evaluation", "dataset", "benchmarks", "deploy"}:
                            found.append((page.name, module, words[words.index("-m") + 2:]))
    return found


class Parsed(BaseException):
    """Raised instead of running once a command's arguments have parsed (no Exception: commands turn those into
    exit codes)."""


@pytest.mark.filterwarnings("ignore:.*found in sys.modules after import of package:RuntimeWarning")
@pytest.mark.parametrize("page, program, arguments", commands(), ids=lambda value: str(value)[:80])
def test_every_documented_command_parses(page, program, arguments, monkeypatch):
    """A command named without arguments in the text (`python -m preprocess`) must at least answer --help."""
    arguments = arguments or ["--help"]
    if program == "main.py":
        try:
            config_from_args(arguments)  # the whole configuration: files, keys, types and ranges
        except SystemExit as done:
            assert done.code == 0 and arguments == ["--help"]
        return
    import utils.config.command_line as command_line

    parse, configure = argparse.ArgumentParser.parse_args, command_line.config_from_args

    def parse_then_stop(self, args=None, namespace=None):
        parse(self, args, namespace)
        raise Parsed

    def configure_then_stop(args):  # commands that read main.py's configuration from their arguments
        configure(args)
        raise Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.setattr(command_line, "config_from_args", configure_then_stop)
    monkeypatch.setattr(sys, "argv", [program, *arguments])
    try:
        runpy.run_module(program, run_name="__main__", alter_sys=True)
    except Parsed:
        return
    except SystemExit as done:
        assert done.code == 0 and arguments == ["--help"], f"{program} {arguments}: exit {done.code}"
        return
    raise AssertionError(f"{program} {arguments} ran without parsing its arguments")


def test_commands_are_found():
    found = commands()
    assert sum(program == "main.py" for _, program, _ in found) >= 15
    assert {"preprocess", "evaluation.runs", "dataset.check"} <= {program for _, program, _ in found}
