"""Sphinx configuration of the course website: the guides in docs/ and the *release* notebooks as pages.

Built offline (no theme or asset is fetched): `dl-course docs` or
`python -m sphinx -W --keep-going -b html docs docs/_build/html`. The student notebooks are copied from
release/ into docs/exercises/ (git-ignored) at every build and rendered without running them; source/ (with
solutions and hidden tests) is never read.
"""

import shutil
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
EXERCISE_PAGES = DOCS / "exercises"


def copy_release_notebooks():
    """release/<exercise>/<exercise>.ipynb -> docs/exercises/<exercise>.ipynb (the only notebooks on the site)."""
    shutil.rmtree(EXERCISE_PAGES, ignore_errors=True)
    EXERCISE_PAGES.mkdir()
    for notebook in sorted(ROOT.glob("release/*/*.ipynb")):
        if notebook.stem == notebook.parent.name:
            shutil.copy(notebook, EXERCISE_PAGES / notebook.name)


copy_release_notebooks()

project = "Deep learning, nine auto-graded exercises"
author = "the course's instructors"
copyright = "2026, the course's instructors"
extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "sphinx_book_theme"
html_title = "Deep learning course"
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "search_bar_text": "Search the course...",
}
html_last_updated_fmt = None
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "off"          # the release notebooks are shown as released: never executed here
nb_merge_streams = True
suppress_warnings = ["mystnb.unknown_mime_type"]
