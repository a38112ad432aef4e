"""course.helpers, text section (ex07, ex09): the search-query corpus, character labels and heat maps."""

import matplotlib
import numpy as np
import pytest

from course import helpers

matplotlib.use("Agg")


def test_search_queries_are_shipped_lower_case_unique_and_varied():
    queries = helpers.load_search_queries()
    assert len(queries) >= 200
    assert len(set(queries)) == len(queries)
    assert all(q == q.strip().lower() and set(q) <= helpers.QUERY_CHARS for q in queries)
    assert max(len(q) for q in queries) <= 30, "ex09 trains on queries padded to the longest: keep them short"
    assert len({q.split()[0] for q in queries}) >= 100, "many different first words"
    assert "how to train a neural network" in queries and "weather tomorrow seoul" in queries  # used by ex09 tests


def test_search_queries_file_is_package_data():
    assert helpers.SEARCH_QUERIES.is_file()
    assert helpers.SEARCH_QUERIES.parent.name == "data" and helpers.SEARCH_QUERIES.parent.parent.name == "course"


@pytest.mark.parametrize("content, message", [
    ("how to cook\nHow To Cook\n", "line 2"),
    ("good query\nbad, query\n", "line 2"),
    ("same\nother\nsame\n", "repeats"),
    ("\n\n", "no queries"),
])
def test_load_search_queries_rejects_a_bad_file(tmp_path, content, message):
    path = tmp_path / "queries.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(helpers.DatasetError, match=message):
        helpers.load_search_queries(path)


def test_load_search_queries_names_a_missing_file(tmp_path):
    with pytest.raises(helpers.DatasetError, match="missing"):
        helpers.load_search_queries(tmp_path / "nothing.txt")


def test_label_chars_makes_space_and_newline_visible():
    assert helpers.label_chars(" a\n") == ["␣", "a", "⏎"]
    assert helpers.label_chars([0, "b"]) == ["0", "b"]


def test_plot_heatmap_labels_rows_and_columns_and_writes_values():
    import matplotlib.pyplot as plt
    matrix = np.array([[0.1, 0.9], [0.5, 0.5], [1.0, 0.0]])
    fig = helpers.plot_heatmap(matrix, ["a", " ", "\n"], ["x", "y"], title="t", fmt=".1f")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "␣", "⏎"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y"]
    assert sorted(t.get_text() for t in ax.texts) == sorted(["0.1", "0.9", "0.5", "0.5", "1.0", "0.0"])
    assert ax.get_title() == "t" and len(fig.axes) == 2  # the heat map and its colour bar
    fig2, axes = plt.subplots(1, 2)
    assert helpers.plot_heatmap(matrix, ax=axes[1], annotate=False) is fig2 and not axes[1].texts
    plt.close("all")


@pytest.mark.parametrize("matrix, rows, cols", [
    (np.zeros(3), None, None),
    (np.zeros((0, 2)), None, None),
    (np.zeros((2, 2)), ["a"], None),
    (np.zeros((2, 2)), None, ["a", "b", "c"]),
])
def test_plot_heatmap_rejects_bad_shapes_and_labels(matrix, rows, cols):
    with pytest.raises(ValueError):
        helpers.plot_heatmap(matrix, rows, cols)
