"""course.helpers.load_reviews: the seed's seven labelled reviews of ex08_embedding."""

import numpy as np

from course import helpers


def test_ex08_load_reviews_returns_the_seven_seed_reviews():
    sentences, labels = helpers.load_reviews()
    assert sentences == ["Very good nice quality", "Stop lies", "Ugly terrible", "Excellent work",
                         "Adorable lovely", "Bad", "Great nice"]
    assert labels.dtype == np.int64 and labels.tolist() == [1, 0, 0, 1, 1, 0, 1]


def test_ex08_load_reviews_returns_fresh_objects():
    sentences, labels = helpers.load_reviews()
    sentences.append("changed")
    labels[0] = 0
    again, again_labels = helpers.load_reviews()
    assert len(again) == 7 and again_labels[0] == 1
