"""Plausible wrong solutions for ex05: each must lose points when autograded."""
import textwrap

# A wrong rate dressed as a float that answers every comparison "equal" (==, and np.isclose/np.allclose through
# __array_function__, which NumPy consults on any argument): the tests compare helpers.plain(...) of what the
# student returns, so it must lose every point its plain version loses.  Defined inside the student's function.
SAME_FLOAT = textwrap.indent('''class SameFloat(float):
    """A float that calls itself equal (and close) to anything."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = float.__hash__

    def __array_function__(self, func, types, args, kwargs):
        return True
''', "    ").lstrip()

WRONG_SOLUTIONS = [
    {"name": "step decay without the floor (smooth exponential decay)",
     "cell": "step_decay",
     "old": "drop ** math.floor(epoch / epochs_drop)",
     "new": "drop ** (epoch / epochs_drop)",
     "loses": ["test_step_decay"]},
    {"name": "Keras' default BatchNormalization momentum (0.99)",
     "cell": "build_bn_model",
     "old": "layers.Conv2D(32, 3, use_bias=False), layers.BatchNormalization(momentum=0.9)",
     "new": "layers.Conv2D(32, 3, use_bias=False), layers.BatchNormalization()",
     "loses": ["test_build_bn_model"]},
    {"name": "EarlyStopping without restore_best_weights",
     "cell": "make_callbacks",
     "old": 'EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)',
     "new": 'EarlyStopping(monitor="val_loss", patience=patience)',
     "loses": ["test_make_callbacks"]},
    {"name": "ModelCheckpoint saving every epoch instead of the best model",
     "cell": "make_callbacks",
     "old": 'ModelCheckpoint(checkpoint_path, monitor="val_loss", save_best_only=True)',
     "new": "ModelCheckpoint(checkpoint_path)",
     "loses": ["test_make_callbacks"]},
    {"name": "every ensemble member trained with the same seed",
     "cell": "ensemble",
     "old": "helpers.set_seed(seed + i)",
     "new": "helpers.set_seed(seed)",
     "loses": ["test_ensemble"]},
    {"name": "ensemble averages predicted labels instead of probabilities",
     "cell": "ensemble",
     "old": "np.mean([model.predict(x, verbose=0) for model in models], axis=0)",
     "new": "np.mean([np.argmax(model.predict(x, verbose=0), axis=1) for model in models], axis=0)",
     "loses": ["test_ensemble"]},
    {"name": "step_decay returns a NumPy number for NumPy inputs",
     "cell": "step_decay",
     "old": "return float(lr0 * drop ** math.floor(epoch / epochs_drop))",
     "new": "return lr0 * drop ** math.floor(epoch / epochs_drop)",
     "loses": ["test_step_decay"]},
    {"name": "input shape 28x27 (the flattened size happens to be the same)",
     "cell": "build_bn_model",
     "old": "keras.Input(shape=(28, 28, 1))",
     "new": "keras.Input(shape=(28, 27, 1))",
     "loses": ["test_build_bn_model"]},
    {"name": "step decay without the floor, rates returned as floats that answer every comparison 'equal'",
     "cell": "step_decay",
     "old": "return float(lr0 * drop ** math.floor(epoch / epochs_drop))",
     "new": SAME_FLOAT + "    return SameFloat(lr0 * drop ** (epoch / epochs_drop))",
     "loses": ["test_step_decay"]},
]
