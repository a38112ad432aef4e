"""How mutants are made and drawn: `dl-course mutants` makes mutants of the solution cells.

The CI sample itself (the first mutants of the benchmark's larger draw) is graded in each exercise's
batch of test_grading.py, where at least 95 % of those not acknowledged as equivalent in
tests/equivalent_mutants/ must be killed.
"""

import ast

import pytest

from conftest import EXERCISES
from course.grading import mutants

pytestmark = pytest.mark.grading


def test_mutants_change_only_solution_code_and_have_unique_stable_ids():
    for exercise in EXERCISES:
        found = mutants.all_mutants(exercise)
        assert found, f"{exercise} has no mutants"
        assert len({m.id for m in found}) == len(found)
        for mutant in found[:50]:
            ast.parse(mutant.after)
            changed = [i for i, (a, b) in enumerate(zip(mutant.before.splitlines(), mutant.after.splitlines()), 1)
                       if a != b]
            assert set(changed) <= mutants.solution_lines(mutant.before), mutant.diff()
    again = mutants.all_mutants(EXERCISES[0])
    assert [m.id for m in again] == [m.id for m in mutants.all_mutants(EXERCISES[0])]


def test_the_ci_sample_is_the_start_of_the_benchmark_draw():
    found = mutants.all_mutants("ex01_numpy_dnn")
    small = mutants.draw(found, mutants.CI_COUNT, mutants.SEED)
    large = mutants.draw(found, mutants.BENCHMARK_COUNT, mutants.SEED)
    assert len(small) == mutants.CI_COUNT and {m.id for m in small} <= {m.id for m in large}
    assert len({m.cell for m in small}) == min(mutants.CI_COUNT, len({m.cell for m in found})), "spread over cells"


def test_acknowledged_equivalent_mutants_exist_and_give_a_reason():
    for exercise in EXERCISES:
        acknowledged = mutants.equivalent(exercise)
        known = {m.id for m in mutants.all_mutants(exercise)}
        assert set(acknowledged) <= known, f"{exercise}: unknown mutant ids {sorted(set(acknowledged) - known)}"
        assert all(len(reason) > 10 for reason in acknowledged.values())


def test_only_grades_mutants_of_the_draw_and_refuses_an_unknown_id_with_where_ids_come_from():
    with pytest.raises(ValueError, match=r"no mutant 0000000000 in the draw of 4 .*the ids are the ones"):
        mutants.run("ex01_numpy_dnn", count=4, seed=mutants.SEED, only=["0000000000"])
