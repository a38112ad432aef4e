"""Plausible wrong solutions for ex07: each must lose points when autograded."""
WRONG_SOLUTIONS = [
    {"name": "vocabulary in order of first appearance, not sorted",
     "cell": "build_vocab",
     "old": "chars = sorted(set(text))",
     "new": "chars = list(dict.fromkeys(text))",
     "loses": ["test_build_vocab"]},
    {"name": "one_hot depth taken from the largest index instead of the argument",
     "cell": "encoding",
     "old": "np.eye(depth, dtype=np.float32)",
     "new": "np.eye(int(np.max(indices)) + 1, dtype=np.float32)",
     "loses": ["test_encoding"]},
    {"name": "one_hot with an off-by-one depth",
     "cell": "encoding",
     "old": "np.eye(depth, dtype=np.float32)",
     "new": "np.eye(depth + 1, dtype=np.float32)",
     "loses": ["test_encoding"]},
    {"name": "target not shifted: y encodes text[:-1] like x",
     "cell": "make_xy",
     "old": "y = encode(text[1:], char_to_index)",
     "new": "y = encode(text[:-1], char_to_index)",
     "loses": ["test_make_xy"]},
    {"name": "vocabulary built from the input part only",
     "cell": "make_xy",
     "old": "char_to_index, index_to_char = build_vocab(text)",
     "new": "char_to_index, index_to_char = build_vocab(text[:-1])",
     "loses": ["test_make_xy"]},
    {"name": "decoded text reversed",
     "cell": "decode",
     "old": "for i in indices)",
     "new": "for i in indices[::-1])",
     "loses": ["test_decode"]},
    {"name": "SimpleRNN returns only its last state (many-to-one)",
     "cell": "build_rnn_model",
     "old": "return_sequences=True",
     "new": "return_sequences=False",
     "loses": ["test_build_rnn_model"]},
    {"name": "encode returns a Python list instead of an int array",
     "cell": "encoding",
     "old": "return np.array([char_to_index[char] for char in text], dtype=np.int64)",
     "new": "return [char_to_index[char] for char in text]",
     "loses": ["test_encoding"]},
    {"name": "index_to_char is an unordered set, not a sorted list",
     "cell": "build_vocab",
     "old": "chars = sorted(set(text))",
     "new": "chars = set(text)",
     "loses": ["test_build_vocab"]},
    {"name": "one_hot indexes with the indices as given (a tuple becomes one multi-dimensional index)",
     "cell": "encoding",
     "old": "np.eye(depth, dtype=np.float32)[np.asarray(indices, dtype=np.int64)]",
     "new": "np.eye(depth, dtype=np.float32)[indices]",
     "loses": ["test_encoding"]},
    {"name": "decode returns a str subclass that equals any text (and reverses the text)",
     "cell": "decode",
     "old": '    return "".join(index_to_char[int(i)] for i in indices)',
     "new": "    class AgreeableText(str):\n"
            "        def __eq__(self, other):\n"
            "            return True\n"
            "        __hash__ = str.__hash__\n"
            '    return AgreeableText("".join(index_to_char[int(i)] for i in indices[::-1]))',
     "loses": ["test_decode", "test_train_predict"]},
    {"name": "one_hot returns an ndarray subclass that answers ==, array_equal, allclose and its shape itself (depth + 1)",
     "cell": "encoding",
     "old": "    return np.eye(depth, dtype=np.float32)[np.asarray(indices, dtype=np.int64)]",
     "new": "    class AgreeableArray(np.ndarray):\n"
            "        def __array_function__(self, func, types, args, kwargs):\n"
            "            if func in (np.array_equal, np.allclose, np.isclose):\n"
            "                return True\n"
            "            return super().__array_function__(func, types, args, kwargs)\n"
            "        def __eq__(self, other):\n"
            "            return np.ones(np.ndarray.shape.__get__(self), dtype=bool)\n"
            "        @property\n"
            "        def shape(self):\n"
            "            true_shape = np.ndarray.shape.__get__(self)\n"
            "            return true_shape[:-1] + (true_shape[-1] - 1,) if true_shape else true_shape\n"
            "    return np.eye(depth + 1, dtype=np.float32)[np.asarray(indices, dtype=np.int64)].view(AgreeableArray)",
     "loses": ["test_encoding"]},
    {"name": "predict_text draws each character from the model's probabilities instead of taking the most likely",
     "cell": "train_predict",
     "old": "    return decode(probs, index_to_char)",
     "new": "    rng = np.random.default_rng(0)\n"
            "    return \"\".join(index_to_char[int(rng.choice(len(row), p=row / row.sum()))] for row in probs.astype(np.float64))",
     "loses": ["test_train_predict"]},
]
