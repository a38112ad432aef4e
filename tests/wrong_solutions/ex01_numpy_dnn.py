"""Plausible wrong solutions for ex01: each must lose points when autograded."""
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
    {"name": "missing 1/m in dZ2",
     "cell": "backward",
     "old": 'dZ2 = (cache["A2"] - Y) / m',
     "new": 'dZ2 = cache["A2"] - Y',
     "loses": ["test_backward"]},
    {"name": "ReLU derivative taken as the activation itself",
     "cell": "backward",
     "old": 'dZ1 = dA1 * (cache["Z1"] >= 0)',
     "new": 'dZ1 = dA1 * cache["A1"]',
     "loses": ["test_backward"]},
    {"name": "sign error in the gradient-descent update",
     "cell": "update_params",
     "old": 'params[name] - lr * grads["d" + name]',
     "new": 'params[name] + lr * grads["d" + name]',
     "loses": ["test_update_params", "test_train_predict"]},
    {"name": "naive sigmoid that overflows for large negative z",
     "cell": "activations",
     "old": "return np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=np.float64)))",
     "new": "return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))",
     "loses": ["test_activations"]},
    {"name": "cost not averaged over the examples",
     "cell": "compute_cost",
     "old": "np.log(1 - Y_hat)) / m)",
     "new": "np.log(1 - Y_hat)))",
     "loses": ["test_compute_cost"]},
    {"name": "sigmoid that only takes NumPy arrays (a list input fails)",
     "cell": "activations",
     "old": "np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=np.float64)))",
     "new": "np.exp(-np.logaddexp(0.0, -z))",
     "loses": ["test_activations"]},
    {"name": "predict returns booleans instead of integer labels",
     "cell": "train_predict",
     "old": "return (forward(X, params)[0] > 0.5).astype(int)",
     "new": "return forward(X, params)[0] > 0.5",
     "loses": ["test_train_predict"]},
    {"name": "predict with a threshold of 0.9 instead of 0.5",
     "cell": "train_predict",
     "old": "return (forward(X, params)[0] > 0.5).astype(int)",
     "new": "return (forward(X, params)[0] > 0.9).astype(int)",
     "loses": ["test_train_predict"]},
    {"name": "missing 1/m in dZ2, gradients returned as arrays that answer every comparison 'equal'",
     "cell": "backward",
     "old": 'dZ2 = (cache["A2"] - Y) / m',
     "new": AGREEABLE + '    dZ2 = (cache["A2"] - Y).view(Agreeable)',
     "loses": ["test_backward"]},
    {"name": "sign error in the update, parameters returned as arrays that answer every comparison 'equal'",
     "cell": "update_params",
     "old": 'return {name: params[name] - lr * grads["d" + name] for name in params}',
     "new": AGREEABLE + '    return {name: (params[name] + lr * grads["d" + name]).view(Agreeable) for name in params}',
     "loses": ["test_update_params", "test_train_predict"]},
    {"name": "forward without the output bias",
     "cell": "forward",
     "old": 'Z2 = params["W2"] @ A1 + params["b2"]',
     "new": 'Z2 = params["W2"] @ A1',
     "loses": ["test_forward"]},
    {"name": "forward without the output bias, Y_hat returned as an array that answers every comparison 'equal'",
     "cell": "forward",
     "old": 'Z2 = params["W2"] @ A1 + params["b2"]\n    A2 = sigmoid(Z2)',
     "new": AGREEABLE + '    Z2 = params["W2"] @ A1\n    A2 = sigmoid(Z2).view(Agreeable)',
     "loses": ["test_forward"]},
    {"name": "predict with a threshold of 0.9, labels returned as an array that answers every comparison 'equal'",
     "cell": "train_predict",
     "old": "return (forward(X, params)[0] > 0.5).astype(int)",
     "new": AGREEABLE + "    return (forward(X, params)[0] > 0.9).astype(int).view(Agreeable)",
     "loses": ["test_train_predict"]},
]
