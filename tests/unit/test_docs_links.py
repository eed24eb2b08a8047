"""Every link of the shipped documentation (README.md and docs/*.md) leads somewhere a clone has.

A link resolves to a file inside the repository (and an `#anchor` to a heading of that file), or is
one of the pages the running desk serves itself (`/docs`, `/openapi.json`, `/asyncapi.json`). Nothing points outside
the repository: not the web (prefer none; there is no allow list) and not `../shared/`, which only
the developers' machines had. The README links docs/index.md, and docs/index.md links every page of
docs/, so no page is an orphan.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVED = ("/docs", "/openapi.json", "/asyncapi.json")  # pages the running desk serves (the API reference, its sources)

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
_INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
_HTML = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']*)[\"']", re.I)
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$", re.M)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//")
_SHARED = re.compile(r"(?:^|[\s(`'\"\[<:])(?:\.\./)+shared\b|(?:^|[\s(`'\"\[<])shared/[A-Za-z]", re.M)


@dataclass(frozen=True)
class Problem:
    page: str
    target: str
    why: str

    def __str__(self) -> str:
        return f"{self.page}: {self.target!r}: {self.why}"


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def prose(text: str) -> str:
    """The text without fenced code blocks and code spans: a link shown as code is not a link."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def links(text: str) -> list[str]:
    body = prose(text)
    return [m.group(1) for pattern in (_INLINE, _REFERENCE, _HTML) for m in pattern.finditer(body)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = text.replace("`", "").strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for match in _HEADING.finditer(_FENCE.sub("", text)):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def check_page(page: Path, text: str, root: Path = ROOT) -> list[Problem]:
    """What is wrong with one page's links and references."""
    name = str(page.relative_to(root))
    problems = [Problem(name, m.group(0).strip(), "refers to ../shared, which a clone does not have")
                for m in _SHARED.finditer(text)]  # fmt: skip
    for target in links(text):
        problem = _check_target(page, text, target, root)
        if problem:
            problems.append(Problem(name, target, problem))
    return problems


def _check_target(page: Path, text: str, target: str, root: Path) -> str:
    if not target:
        return "an empty link"
    if _SCHEME.match(target):
        return "leaves the repository (link to a file in it, or to the served /docs)"
    path, _, anchor = target.partition("#")
    if path.split("?")[0] in SERVED and path.startswith("/"):
        return ""
    if path.startswith("/"):
        return "an absolute path: only " + ", ".join(SERVED) + " are served by the desk; link files relatively"
    resolved = (page.parent / path).resolve() if path else page
    try:
        resolved.relative_to(root)
    except ValueError:
        return "resolves outside the repository"
    if path and not resolved.exists():
        return f"no such file: {resolved.relative_to(root)}"
    if anchor:
        if resolved.suffix != ".md":
            return "an anchor into a file that is not Markdown"
        own = text if resolved == page else resolved.read_text(encoding="utf-8")
        if anchor not in anchors(own):
            return f"no heading with the anchor #{anchor} in {resolved.relative_to(root)}"
    return ""


def linked_files(page: Path, text: str) -> set[Path]:
    return {(page.parent / t.partition("#")[0]).resolve() for t in links(text)
            if t and not _SCHEME.match(t) and not t.startswith(("#", "/"))}  # fmt: skip


# --- the checker itself: it finds what it must ------------------------------------------------------------
def test_the_checker_finds_links_that_leave_or_miss(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## Its part: two `words`\n", encoding="utf-8")
    page = tmp_path / "README.md"
    text = (
        "See [the contract](../shared/API.md), [design](shared/DESIGN.md), [web](https://example.com),\n"
        "[gone](docs/missing.md), [up](../outside.md), [bad anchor](docs/a.md#nothing), ![pic](img.png),\n"
        "[ok](docs/a.md#its-part-two-words), [self](#top), [served](/docs), [root](/etc/passwd),\n"
        "`[code](../shared/x.md)` is code, and so is\n```\n[fenced](../nowhere.md)\n```\n# Top\n"
    )
    found = {(p.target, p.why.split(":")[0]) for p in check_page(page, text, tmp_path)}
    targets = {target for target, _ in found}
    assert {"../shared/API.md", "shared/DESIGN.md", "https://example.com", "docs/missing.md", "../outside.md",
            "docs/a.md#nothing", "img.png", "/etc/passwd"} <= targets, found  # fmt: skip
    assert not targets & {"docs/a.md#its-part-two-words", "#top", "/docs", "../nowhere.md"}, found
    assert any("shared" in target and "refers to ../shared" in why for target, why in found), found


def test_anchors_follow_githubs_rules() -> None:
    text = "# Coming from ctpbee_backend\n## Limits at the edge\n## Limits at the edge\n## 策略 API（中文）\n"
    assert anchors(text) == {"coming-from-ctpbee_backend", "limits-at-the-edge", "limits-at-the-edge-1",
                             "策略-api中文"}  # fmt: skip


# --- the shipped pages -------------------------------------------------------------------------------------
@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves_inside_the_repository(page: Path) -> None:
    problems = check_page(page, page.read_text(encoding="utf-8"))
    assert not problems, "\n".join(map(str, problems))


def test_the_readme_leads_into_docs_and_the_index_reaches_every_page() -> None:
    readme = ROOT / "README.md"
    index = ROOT / "docs" / "index.md"
    assert index.exists(), "docs/index.md, the map of the documentation, is missing"
    linked = linked_files(readme, readme.read_text(encoding="utf-8"))
    assert index.resolve() in linked, "README.md must link docs/index.md"
    reached = linked_files(index, index.read_text(encoding="utf-8"))
    orphans = [p.name for p in sorted((ROOT / "docs").glob("*.md")) if p != index and p.resolve() not in reached]
    assert not orphans, f"docs/index.md does not link: {orphans}"
