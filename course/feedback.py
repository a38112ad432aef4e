"""nbgrader feedback preprocessor that keeps hidden tests hidden in returned feedback."""

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests

HIDDEN_NOTE = ("(Hidden tests ran in this cell; their code and traceback are not shown. "
               "The error above says what failed.)")


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden-test code from graded cells and reduce their error outputs to `ename: evalue`.

    A traceback quotes the source around the failing line, so cells that held hidden tests keep
    only the error's name and message (the assertion messages say what was checked).
    """

    def preprocess_cell(self, cell, resources, cell_index):
        had_hidden = cell.cell_type == "code" and self.begin_test_delimeter in cell.source
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if had_hidden and utils.is_grade(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}",
                                           HIDDEN_NOTE]
        return cell, resources
