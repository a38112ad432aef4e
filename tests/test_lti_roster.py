"""The class from the LMS (course.grading.lti.sync_roster), without a platform: who is matched to which student,
who gets a new id, who has none usable, who left, and which LMS roles make an instructor.

The end-to-end runs against an LTI platform: tests/test_lms.py (roster and scores), tests/test_lti.py (a hub)."""

import csv

import pytest
from nbgrader.api import Gradebook
from traitlets.config import Config

from course.grading.lms import comment
from course.grading.grades import GradeRow
from course.grading.lti import Lti13Tool, kind_of, sync_roster

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
MENTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"
INSTITUTION_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor"


def member(user_id, email, given="", family="", roles=(LEARNER,), status="Active", **more):
    return {"user_id": user_id, "email": email, "given_name": given, "family_name": family,
            "name": f"{given} {family}".strip() or email, "roles": list(roles), "status": status, **more}


@pytest.fixture
def gradebook(tmp_path):
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", "dl-course") as book:
        book.update_or_create_student("ada", first_name="Ada", last_name="Lovelace", email="a.lovelace@uni.example")
        book.update_or_create_student("s1234", first_name="Bo", last_name="Diddley", lms_user_id="bo.d")
        yield book


def users(root):
    return {row["user_id"]: row for row in csv.DictReader(open(root / "lti" / "users.csv"))}


def test_members_are_matched_to_the_gradebooks_students_as_collect_matches_and_new_ones_get_an_id(tmp_path, gradebook):
    settings = Lti13Tool()
    sync = sync_roster(settings, tmp_path, gradebook, [
        member("u1", "A.Lovelace@uni.example", "Ada", "Lovelace"),   # by e-mail
        member("u2", "bo@elsewhere.example", "Bo", "Diddley", lis_person_sourcedid="bo.d"),   # by the SIS id
        member("u3", "Cy.Young@uni.example", "Cy", "Young"),   # new: the e-mail's local part
        member("u4", "", "Anon", "Ymous"),   # no e-mail: no usable id
        member("u5", "ines@uni.example", "Ines", "T", roles=[TA, LEARNER]),
        member("u6", "mum@home.example", "Mum", "Lovelace", roles=[MENTOR]),   # an observer: skipped
    ])
    assert (sync.added, sync.kept, sync.instructors) == (["cy.young"], ["ada", "s1234"], ["ines"])
    assert sync.unusable == [("Anon Ymous", "the LMS gives no email local (c.Lti13Tool.student_id_from)")]
    assert {u: row["student"] for u, row in users(tmp_path).items()} == {
        "u1": "ada", "u2": "s1234", "u3": "cy.young", "u5": "ines"}
    assert gradebook.find_student("cy.young").first_name == "Cy"


def test_on_a_hub_an_id_must_be_an_account_name_and_one_id_never_serves_two_lms_users(tmp_path, gradebook):
    gradebook.update_or_create_student("Dee.Snider", email="dee@uni.example")   # a row from before: not an account
    sync = sync_roster(Lti13Tool(), tmp_path, gradebook, [member("u3", "Cy.Young@uni.example"),
                                                         member("u4", "dee@uni.example"),
                                                         member("u5", "2024.Bo@uni.example"),
                                                         member("u7", "grader-dl-course@uni.example"),
                                                         member("u8", "ines@uni.example", roles=[TA])],
                       account_names=True, reserved={"grader-dl-course", "ines"})
    assert sync.added == ["cy_young", "u2024_bo"], "new ids on a hub are account names"
    assert sync.unusable[0] == ("dee@uni.example", "'Dee.Snider' cannot be a Linux account name on the hub "
                                                   "(lower-case letters, digits, _ and -)")
    assert sync.unusable[1] == ("grader-dl-course@uni.example", "'grader-dl-course' is the account of the hub's "
                                                                "grader or of one of its instructors")
    assert sync.instructors == ["ines"], "an instructor's own account is theirs"
    settings = Lti13Tool(config=Config({"Lti13Tool": {"student_id_from": "user_id"}}))
    sync = sync_roster(settings, tmp_path, gradebook, [member("ada", "x@y.example"),
                                                      member("u1", "a.lovelace@uni.example")])
    assert sync.unusable == [("a.lovelace@uni.example", "'ada' is already the id of another LMS user (ada)")]


def test_a_second_read_reports_who_left_and_keeps_their_id_for_them(tmp_path, gradebook):
    settings = Lti13Tool()
    sync_roster(settings, tmp_path, gradebook, [member("u1", "a.lovelace@uni.example"), member("u3", "cy@uni.example")])
    sync = sync_roster(settings, tmp_path, gradebook, [member("u1", "a.lovelace@uni.example"),
                                                      member("u3", "cy@uni.example", status="Inactive")])
    assert (sync.left, sync.kept) == (["cy"], ["ada"])
    assert users(tmp_path)["u3"]["status"] == "inactive"
    sync = sync_roster(settings, tmp_path, gradebook, [member("u9", "cy@uni.example")])   # another LMS user, cy's id
    assert sync.unusable == [("cy@uni.example", "'cy' is already the id of another LMS user (u3)")]
    assert "left 1: ada" in "\n".join(sync.lines())


def test_only_the_courses_roles_make_an_instructor():
    assert kind_of([TA]) == "instructor" and kind_of(["Instructor"]) == "instructor"
    assert kind_of([INSTITUTION_INSTRUCTOR, LEARNER]) == "learner", "an institution role is not this course's"
    assert kind_of([MENTOR]) == "" and kind_of([]) == ""


def test_a_missing_student_posted_as_zero_says_so():
    row = GradeRow(assignment="ex01", student="dee", first_name="", last_name="", email="", lms_user_id="",
                   duedate=None, timestamp=None, raw_score=None, penalty=None, tests_score=None, max_score=15.0,
                   status="missing", reason="nothing submitted")
    assert comment(row) == "0 points: nothing was submitted"
