"""Wrong results that answer every comparison "equal", for the wrong solutions of several exercises.

Each is the text of a class, indented to stand inside the student's function, so that a wrong solution
(`"new": AGREEABLE + "    return ....view(Agreeable)"`) defines it where it is used. The tests compare
`helpers.plain(...)` of what a student returns, so each must lose every point its plain version loses."""
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

# A wrong integer that calls itself equal to anything (a conv_output_size off by one still "passes" ==).
SAME_INT = textwrap.indent('''class SameInt(int):
    """An int that calls itself equal to anything."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__
''', "    ").lstrip()

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
