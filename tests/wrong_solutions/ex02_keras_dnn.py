"""Plausible wrong solutions for ex02: each must lose points when autograded."""
import textwrap

# A wrong result dressed as an array that answers every comparison "equal" (np.allclose, np.isclose,
# np.array_equal, ==): the tests compare helpers.plain(...) of what the student returns, so it must lose
# every point its plain version loses.  Defined inside the student's function (indented there).
AGREEABLE = textwrap.indent('''class Agreeable(np.ndarray):
    """An array that calls itself equal to anything."""

    def __array_function__(self, func, types, args, kwargs):
        if func in (np.allclose, np.array_equal, np.array_equiv):
            return True
        if func is np.isclose:
            return np.ones(np.broadcast(*args[:2]).shape, dtype=bool)
        return super().__array_function__(func, types, args, kwargs)

    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)

    def __ne__(self, other):
        return np.zeros(np.shape(self), dtype=bool)
''', "    ").lstrip()

WRONG_SOLUTIONS = [
    {"name": "pixels not scaled by 255",
     "cell": "preprocess",
     "old": "images.reshape(len(images), -1).astype(np.float32) / 255.0",
     "new": "images.reshape(len(images), -1).astype(np.float32)",
     "loses": ["test_preprocess"]},
    {"name": "scaled by the batch maximum instead of 255",
     "cell": "preprocess",
     "old": "images.reshape(len(images), -1).astype(np.float32) / 255.0",
     "new": "images.reshape(len(images), -1).astype(np.float32) / images.max()",
     "loses": ["test_preprocess"]},
    {"name": "column convention of Exercise 1 (one column per image)",
     "cell": "preprocess",
     "old": "images.reshape(len(images), -1).astype(np.float32) / 255.0",
     "new": "images.reshape(len(images), -1).T.astype(np.float32) / 255.0",
     "loses": ["test_preprocess"]},
    {"name": "softmax on the single output unit",
     "cell": "build_model",
     "old": 'keras.layers.Dense(1, activation="sigmoid")',
     "new": 'keras.layers.Dense(1, activation="softmax")',
     "loses": ["test_build_model"]},
    {"name": "mean squared error instead of binary cross-entropy",
     "cell": "build_model",
     "old": 'loss="binary_crossentropy"',
     "new": 'loss="mse"',
     "loses": ["test_build_model"]},
    {"name": "number of epochs hard-coded",
     "cell": "train_model",
     "old": "epochs=epochs",
     "new": "epochs=5",
     "loses": ["test_train_model"]},
    {"name": "selects the cats (p > 0.5) instead of the non-cats",
     "cell": "select_non_cats",
     "old": "probabilities < 0.5",
     "new": "probabilities > 0.5",
     "loses": ["test_select_non_cats"]},
    {"name": "a probability of exactly 0.5 counted as non-cat (<= instead of <)",
     "cell": "select_non_cats",
     "old": "probabilities < 0.5",
     "new": "probabilities <= 0.5",
     "loses": ["test_select_non_cats"]},
    {"name": "raw pixels fed to the model when selecting",
     "cell": "select_non_cats",
     "old": "model.predict(preprocess(images), verbose=0)",
     "new": "model.predict(images.reshape(len(images), -1), verbose=0)",
     "loses": ["test_select_non_cats"]},
    {"name": "compiled with plain SGD instead of Adam",
     "cell": "build_model",
     "old": 'optimizer="adam"',
     "new": 'optimizer="sgd"',
     "loses": ["test_build_model"]},
    {"name": "non-cats taken as a cat probability below 0.9 instead of 0.5",
     "cell": "select_non_cats",
     "old": "probabilities < 0.5",
     "new": "probabilities < 0.9",
     "loses": ["test_select_non_cats"]},
    {"name": "selects the cats (p > 0.5), indices returned as an array that answers every comparison 'equal'",
     "cell": "select_non_cats",
     "old": "return np.flatnonzero(probabilities < 0.5)",
     "new": AGREEABLE + "    return np.flatnonzero(probabilities > 0.5).view(Agreeable)",
     "loses": ["test_select_non_cats"]},
    {"name": "pixels not scaled by 255, returned as an array that answers every comparison 'equal'",
     "cell": "preprocess",
     "old": "return images.reshape(len(images), -1).astype(np.float32) / 255.0",
     "new": AGREEABLE + "    return images.reshape(len(images), -1).astype(np.float32).view(Agreeable)",
     "loses": ["test_preprocess"]},
]
