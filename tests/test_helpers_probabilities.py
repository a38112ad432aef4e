"""course.helpers.plot_probabilities: images above their class-probability bars (ex02_keras_dnn, ex03_cnn_mnist)."""

import warnings

import matplotlib
import numpy as np
import pytest

from course import helpers

matplotlib.use("Agg")


def _bar_colors(ax):
    return [matplotlib.colors.to_hex(patch.get_facecolor()) for patch in ax.patches]


def test_ex03_plot_probabilities_draws_an_image_and_bars_per_example():
    import matplotlib.pyplot as plt
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    probabilities = np.full((3, 10), 0.02)
    probabilities[:, 3] = 0.82
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = helpers.plot_probabilities(images, probabilities, labels=[3, 3, 5])
    axes = np.array(fig.axes).reshape(2, 3)
    assert [len(ax.patches) for ax in axes[1]] == [10, 10, 10]
    assert np.allclose([patch.get_height() for patch in axes[1, 0].patches], probabilities[0])
    assert axes[0, 0].get_title() == "3: 82%"
    colors = _bar_colors(axes[1, 2])
    assert colors[5] == matplotlib.colors.to_hex("green") and colors[3] == matplotlib.colors.to_hex("red")
    assert _bar_colors(axes[1, 0])[3] == matplotlib.colors.to_hex("green")
    plt.close(fig)


def test_ex02_plot_probabilities_uses_class_names_and_colour_images():
    import matplotlib.pyplot as plt
    images = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    fig = helpers.plot_probabilities(images, [[0.3, 0.7], [0.9, 0.1]], class_names=["non-cat", "cat"])
    axes = np.array(fig.axes).reshape(2, 2)
    assert axes[0, 0].get_title() == "cat: 70%" and axes[0, 1].get_title() == "non-cat: 90%"
    assert [label.get_text() for label in axes[1, 0].get_xticklabels()] == ["non-cat", "cat"]
    plt.close(fig)


@pytest.mark.parametrize("kwargs, message", [
    ({"images": np.zeros((2, 4)), "probabilities": np.ones((2, 3))}, "images must have shape"),
    ({"images": np.zeros((2, 4, 4)), "probabilities": np.ones((3, 3))}, "probabilities must have shape"),
    ({"images": np.zeros((2, 4, 4)), "probabilities": np.ones((2, 3)), "class_names": ["a", "b"]}, "class_names"),
    ({"images": np.zeros((2, 4, 4)), "probabilities": np.ones((2, 3)), "labels": [1]}, "labels"),
])
def test_plot_probabilities_rejects_mismatched_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        helpers.plot_probabilities(**kwargs)
