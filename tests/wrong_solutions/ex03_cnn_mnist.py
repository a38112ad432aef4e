"""Plausible wrong solutions for ex03: each must lose points when autograded."""
import os
import runpy

# Wrong results dressed as values that answer every comparison "equal" (lying_results.py beside this file).
LYING = runpy.run_path(os.path.join(os.path.dirname(__file__), "lying_results.py"))
AGREEABLE = LYING["AGREEABLE"]
SAME_INT = LYING["SAME_INT"]

WRONG_SOLUTIONS = [
    {"name": "output size without the + 1",
     "cell": "conv_arithmetic",
     "old": "return (n + 2 * padding - f) // stride + 1",
     "new": "return (n + 2 * padding - f) // stride",
     "loses": ["test_conv_arithmetic", "test_build_cnn"]},
    {"name": "padding counted on one side only",
     "cell": "conv_arithmetic",
     "old": "return (n + 2 * padding - f) // stride + 1",
     "new": "return (n + padding - f) // stride + 1",
     "loses": ["test_conv_arithmetic"]},
    {"name": "biases forgotten in the parameter count",
     "cell": "conv_arithmetic",
     "old": "return channels * kernel_size ** 2 * filters + filters",
     "new": "return channels * kernel_size ** 2 * filters",
     "loses": ["test_conv_arithmetic", "test_build_cnn"]},
    {"name": "true convolution: kernel flipped",
     "cell": "conv2d",
     "old": "kernel = np.asarray(kernel, dtype=np.float64)",
     "new": "kernel = np.asarray(kernel, dtype=np.float64)[::-1, ::-1]",
     "loses": ["test_conv2d"]},
    {"name": "zero padding forgotten",
     "cell": "conv2d",
     "old": "image = np.pad(np.asarray(image, dtype=np.float64), padding)",
     "new": "image = np.asarray(image, dtype=np.float64)",
     "loses": ["test_conv2d"]},
    {"name": "stride ignored when taking the patches",
     "cell": "conv2d",
     "old": "image[i * stride:i * stride + kh, j * stride:j * stride + kw]",
     "new": "image[i:i + kh, j:j + kw]",
     "loses": ["test_conv2d"]},
    {"name": "pooling windows stepped by their size, ignoring stride",
     "cell": "max_pool",
     "old": "feature_map[i * stride:i * stride + size, j * stride:j * stride + size]",
     "new": "feature_map[i * size:i * size + size, j * size:j * size + size]",
     "loses": ["test_max_pool"]},
    {"name": "no softmax on the output layer",
     "cell": "build_cnn",
     "old": 'keras.layers.Dense(10, activation="softmax")',
     "new": "keras.layers.Dense(10)",
     "loses": ["test_build_cnn"]},
    {"name": "cosine decay from twice the step size",
     "cell": "build_cnn",
     "old": "schedules.CosineDecay(3e-3, decay_steps)",
     "new": "schedules.CosineDecay(6e-3, decay_steps)",
     "loses": ["test_build_cnn"]},
    {"name": "sigmoid instead of ReLU in the second convolution",
     "cell": "build_cnn",
     "old": 'keras.layers.Conv2D(32, 5, activation="relu")',
     "new": 'keras.layers.Conv2D(32, 5, activation="sigmoid")',
     "loses": ["test_build_cnn"]},
    {"name": "input shape 28x29 (the flattened size happens to be the same)",
     "cell": "build_cnn",
     "old": "keras.Input(shape=(28, 28, 1))",
     "new": "keras.Input(shape=(28, 29, 1))",
     "loses": ["test_build_cnn"]},
    {"name": "output size without the + 1, returned as an int that answers every comparison 'equal'",
     "cell": "conv_arithmetic",
     "old": "return (n + 2 * padding - f) // stride + 1",
     "new": SAME_INT + "    return SameInt((n + 2 * padding - f) // stride)",
     "loses": ["test_conv_arithmetic", "test_build_cnn"]},
    {"name": "true convolution (kernel flipped), feature map returned as an array that answers every comparison 'equal'",
     "cell": "conv2d",
     "old": "kernel = np.asarray(kernel, dtype=np.float64)\n    kh, kw = kernel.shape\n"
            "    out_h = (image.shape[0] - kh) // stride + 1\n    out_w = (image.shape[1] - kw) // stride + 1\n"
            "    out = np.zeros((out_h, out_w))",
     "new": AGREEABLE + "    kernel = np.asarray(kernel, dtype=np.float64)[::-1, ::-1]\n    kh, kw = kernel.shape\n"
            "    out_h = (image.shape[0] - kh) // stride + 1\n    out_w = (image.shape[1] - kw) // stride + 1\n"
            "    out = np.zeros((out_h, out_w)).view(Agreeable)",
     "loses": ["test_conv2d"]},
    {"name": "pooling windows stepped by their size, pooled map returned as an array that answers every comparison 'equal'",
     "cell": "max_pool",
     "old": "out = np.empty((out_h, out_w))\n    for i in range(out_h):\n        for j in range(out_w):\n"
            "            out[i, j] = feature_map[i * stride:i * stride + size, j * stride:j * stride + size].max()",
     "new": AGREEABLE + "    out = np.empty((out_h, out_w)).view(Agreeable)\n    for i in range(out_h):\n        for j in range(out_w):\n"
            "            out[i, j] = feature_map[i * size:i * size + size, j * size:j * size + size].max()",
     "loses": ["test_max_pool"]},
]
