"""Stage *release*: every released notebook opens in Colab from, and installs the course from, one repository.

One setting, `c.ColabLinks.repository` ("owner/name" on GitHub) and `c.ColabLinks.branch`, in
nbgrader_config.py. Two kinds of link follow it:

- in every release notebook, `nbgrader generate_assignment` runs `ColabLinks` (wired in nbgrader_config.py
  before nbgrader checksums and saves the cells, so the gradebook holds the released text): the title's
  Colab badge becomes
  `https://colab.research.google.com/github/<repository>/blob/<branch>/release/<ex>/<ex>.ipynb` (that
  notebook's own release) and the setup cell's install becomes
  `"dl-course @ git+https://github.com/<repository>@<branch>"` (pip's PEP 508 direct reference, with the
  branch as the git ref, so the helpers come from the same branch as the notebook);
- in README.md (the exercise table) and docs/*.md, `dl-course links` rewrites the same two shapes and the
  students' guide's link to the README (`https://github.com/<repository>/tree/<branch>#readme`).

Each shape is recognised with any previous owner/name and branch, so changing the setting and running both
again moves every link; a Colab URL is recognised only when it points under `release/`. `stale(root)` lists
every link of README.md, docs/*.md and release/ that does not follow the setting (`dl-course links --check`,
tests/test_colab_links.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import TraitError, Unicode, validate

PACKAGE = "dl-course"                              # the distribution the setup cell installs (pyproject.toml)
DEFAULT_REPOSITORY, DEFAULT_BRANCH = "dl-course/dl-course", "main"

_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?"     # a GitHub user or organisation
_NAME = r"[A-Za-z0-9._-]{1,100}"
_BRANCH = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}"                   # one path segment: no '/'
REPOSITORY_FORM = re.compile(rf"{_OWNER}/{_NAME}")
BRANCH_FORM = re.compile(_BRANCH)

# The shapes as they stand in notebooks and Markdown, with whatever repository and branch they name now.
_SEGMENT = r"[^/\s()\[\]<>\"'`]+"
COLAB_URL = re.compile(rf"https://colab\.research\.google\.com/github/(?P<repository>{_SEGMENT}/{_SEGMENT})"
                       rf"/blob/(?P<branch>{_SEGMENT})/(?P<path>release/[^\s()\[\]<>\"'`]+?\.ipynb)")
BADGE = re.compile(r"(?P<badge>\[!\[[^\]]*\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\()"
                   + COLAB_URL.pattern + r"(?=\))")
INSTALL = re.compile(rf"(?P<package>{re.escape(PACKAGE)}\s*@\s*)git\+https://github\.com/"
                     rf"(?P<repository>{_SEGMENT}/[^/\s()\[\]<>\"'`@#]+?)(?:\.git)?(?:@(?P<branch>[^\s\"'`#]+?))?"
                     r"(?=[\s\"'`#]|$)")
README_LINK = re.compile(rf"https://github\.com/(?P<repository>{_SEGMENT}/[^/\s()\[\]<>\"'`#]+)"
                         rf"(?:/tree/(?P<branch>{_SEGMENT}))?#readme")
SHAPES = {"Colab link": COLAB_URL, "install": INSTALL, "README link": README_LINK}


class ColabLinks(NbGraderPreprocessor):
    """The repository and branch the released notebooks point at, and the generate_assignment preprocessor
    that writes them (`course.grading.release.ColabLinks` in c.GenerateAssignment.preprocessors)."""

    repository = Unicode(DEFAULT_REPOSITORY, help="The GitHub repository students open the release notebooks "
                         "from and install the course helpers from, as 'owner/name'.").tag(config=True)
    branch = Unicode(DEFAULT_BRANCH, help="The branch of that repository (one name, no '/'): the Colab links "
                     "open release/ on it and the setup cell installs the helpers from it.").tag(config=True)

    @validate("repository")
    def _valid_repository(self, proposal):
        value = proposal["value"]
        if not REPOSITORY_FORM.fullmatch(value) or value.split("/")[1] in (".", "..") or value.endswith(".git"):
            raise TraitError(f"c.ColabLinks.repository must be a GitHub repository as 'owner/name' (e.g. "
                             f"{DEFAULT_REPOSITORY!r}: no https://github.com/, no .git), got {value!r}")
        return value

    @validate("branch")
    def _valid_branch(self, proposal):
        value = proposal["value"]
        if not BRANCH_FORM.fullmatch(value) or ".." in value or value.endswith((".", ".lock")):
            raise TraitError(f"c.ColabLinks.branch must be a git branch name of letters, digits, '.', '_' and "
                             f"'-' (one name, no '/', e.g. {DEFAULT_BRANCH!r} or 'term-2027'), got {value!r}")
        return value

    # --- the links --------------------------------------------------------------------------------------------

    def colab_url(self, path):
        """The Colab URL that opens `path` (e.g. release/ex01_numpy_dnn/ex01_numpy_dnn.ipynb) of the branch."""
        return f"https://colab.research.google.com/github/{self.repository}/blob/{self.branch}/{path}"

    def install_url(self):
        """Where pip gets the course: the branch of the repository, by git (the part after `dl-course @ `)."""
        return f"git+https://github.com/{self.repository}@{self.branch}"

    def install_requirement(self):
        """The requirement the setup cell gives `%pip install`: a PEP 508 direct reference to the branch."""
        return f"{PACKAGE} @ {self.install_url()}"

    def readme_url(self):
        return f"https://github.com/{self.repository}/tree/{self.branch}#readme"

    def rewrite(self, text, own_path=None):
        """`text` with every recognised link pointing at the setting. With `own_path` (the notebook's release
        path), a Colab badge opens that notebook; other Colab links keep the file they open."""
        if own_path:
            text = BADGE.sub(lambda m: m["badge"] + self.colab_url(own_path), text)
        text = COLAB_URL.sub(lambda m: self.colab_url(m["path"]), text)
        text = INSTALL.sub(lambda m: m["package"] + self.install_url(), text)
        return README_LINK.sub(lambda m: self.readme_url(), text)

    def stray(self, text):
        """[(shape, link)] of the recognised links in `text` that name another repository or branch."""
        return [(shape, m[0]) for shape, pattern in SHAPES.items() for m in pattern.finditer(text)
                if (m["repository"], m["branch"]) != (self.repository, self.branch)]

    # --- nbgrader generate_assignment --------------------------------------------------------------------------

    def preprocess(self, nb, resources):
        """Rewrite the links of every cell of a notebook nbgrader releases (resources name the assignment)."""
        info = resources.get("nbgrader", {})
        own = f"release/{info['assignment']}/{info['notebook']}.ipynb" if info.get("notebook") else None
        for cell in nb.cells:
            cell.source = self.rewrite(cell.source, own_path=own)
        return nb, resources


def _exercises(root):
    return sorted(p.parent.name for p in Path(root, "release").glob("*/*.ipynb") if p.stem == p.parent.name)


def pages(root):
    """The Markdown files whose links `dl-course links` rewrites: README.md and docs/*.md."""
    root = Path(root)
    return [p for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))] if p.is_file()]


def rewrite_pages(root, links):
    """Rewrite the links of README.md and docs/*.md to the setting; returns the files that changed."""
    changed = []
    for page in pages(root):
        text = page.read_text(encoding="utf-8")
        new = links.rewrite(text)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed.append(page)
    return changed


def stale(root, links):
    """One line per link of README.md, docs/*.md and release/ that does not follow the setting (and per
    exercise whose README row, release badge or setup cell lacks the configured one); [] when all follow it."""
    root = Path(root)
    problems = []
    for page in pages(root):
        text = page.read_text(encoding="utf-8")
        problems += [f"{page.relative_to(root)}: {shape} {link}" for shape, link in links.stray(text)]
    readme = (root / "README.md").read_text(encoding="utf-8") if (root / "README.md").is_file() else ""
    for exercise in _exercises(root):
        path = f"release/{exercise}/{exercise}.ipynb"
        if readme and links.colab_url(path) not in readme:
            problems.append(f"README.md: no Colab link {links.colab_url(path)}")
        nb = nbformat.read(root / path, as_version=4)
        problems += [f"{path}: {shape} {link}" for cell in nb.cells for shape, link in links.stray(cell.source)]
        title = nb.cells[0].source if nb.cells else ""
        if f"colab-badge.svg)]({links.colab_url(path)})" not in title:
            problems.append(f"{path}: the title has no Colab badge {links.colab_url(path)}")
        setup = next((c.source for c in nb.cells if c.cell_type == "code"), "")
        if f'"{links.install_requirement()}"' not in setup:
            problems.append(f'{path}: the setup cell does not install "{links.install_requirement()}"')
    return problems
