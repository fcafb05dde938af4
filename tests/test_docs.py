"""The docs keep up with the code: every environment variable the settings or the processes read is
documented in docs/configuration.md, and README.md stays one screen that links into docs/."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Variables the test suite and benchmarks set for their own processes; not for operators.
INTERNAL = {"MASKPORTAL_BENCHMARK", "MASKPORTAL_TEST_DB_NAME"}
READ = re.compile(
    r"""env\.(?:str|int|bool|list|float|db|path|json)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
    r"""|environ(?:\.get|\.setdefault)?[\[(]\s*["']([A-Z][A-Z0-9_]+)["']"""
    r"""|Env\(\)\.\w+\(\s*["']([A-Z][A-Z0-9_]+)["']"""
)


def variables_read() -> set[str]:
    names: set[str] = set()
    for path in (REPO / "maskportal").rglob("*.py"):
        for match in READ.finditer(path.read_text()):
            names.add(next(group for group in match.groups() if group))
    return names - INTERNAL


def test_every_environment_variable_is_documented():
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (REPO / "docs" / "configuration.md").read_text()))
    missing = sorted(variables_read() - documented)
    assert missing == [], f"variables read by the code but missing from docs/configuration.md: {missing}"


def test_readme_is_one_screen_that_links_into_the_docs():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 120
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (REPO / link).exists(), f"README links to a missing {link}"
