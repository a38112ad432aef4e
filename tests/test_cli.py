"""`dl-course` is one declarative CLI (course/cli.py, click): every verb listed once, `--course` accepted before
and after every verb, usage errors as exit status 2 with the verb's usage, help from each handler's docstring.
Fast: nothing is graded."""

import re

import click
import pytest

from course import cli

VERBS = {"collect", "grade", "report", "mutants", "similarity", "flags", "export", "return", "schedule", "links",
         "docs", "setup", "hub", "data", "lti"}


def commands(group=cli.cli, prefix=()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_the_help_lists_each_verb_once_with_its_summary(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    listed = re.findall(r"^  ([a-z]+)\s{2,}\S", out.split("Commands:")[1], re.M)
    assert sorted(listed) == sorted(VERBS)
    assert "dl-course collect EXERCISE" not in out, "the verbs are listed by click, not again in the description"


@pytest.mark.parametrize("path, command", list(commands()), ids=lambda value: " ".join(value) if isinstance(value, tuple) else "")
def test_every_verb_takes_course_after_it_and_says_what_its_exit_status_means(path, command):
    names = {param.name for param in command.params}
    assert "course" in names, f"dl-course {' '.join(path)} does not take --course"
    assert "Exit status" in " ".join((command.help or "").split()), f"dl-course {' '.join(path)}: no exit status"


@pytest.mark.parametrize("argv", [["grade", "ex01_numpy_dnn", "--course", "{dir}"],
                                  ["--course", "{dir}", "collect", "ex01_numpy_dnn", "{dir}"],
                                  ["collect", "ex01_numpy_dnn", "{dir}", "--course", "{dir}"],
                                  ["export", "ex01_numpy_dnn", "--course", "{dir}"]])
def test_course_before_or_after_a_verb_names_the_same_course_root(argv, tmp_path):
    """Not a course root either way: the same one-line refusal, never "unrecognized arguments"."""
    with pytest.raises(SystemExit, match=f"{re.escape(str(tmp_path))} is not a course root"):
        cli.main([part.format(dir=tmp_path) for part in argv])


def test_a_usage_error_is_exit_status_2_with_the_verbs_usage(capsys):
    assert cli.main(["grade"]) == 2
    assert "Usage: dl-course grade [OPTIONS] EXERCISE" in capsys.readouterr().err
    assert cli.main(["similarity", "ex01_numpy_dnn", "--threshold", "2"]) == 2
    assert cli.main([]) == 2
    assert cli.main(["export", "ex01_numpy_dnn", "--lms", "brightspace"]) == 2


def test_options_shared_by_verbs_are_declared_once():
    """`--lms` of export and return, `--dir` of the hub's verbs and `--course` come from one declaration each."""
    def option(path, name):
        return next(p for p in dict(commands())[path].params if p.name == name)
    assert option(("export",), "lms").type.choices == option(("return",), "lms").type.choices == tuple(cli.LMS_NAMES)
    assert option(("hub", "up"), "state_dir").default == option(("hub", "down"), "state_dir").default == cli.HUB_DIR
    assert not option(("export",), "lms").required


def test_the_cli_s_own_names_agree_with_the_modules_it_does_not_import():
    """The CLI keeps nbgrader out of `dl-course --help` by repeating two names; they must stay the modules'."""
    from course import hub
    from course.grading.lms import LMS_NAMES

    assert tuple(LMS_NAMES) == cli.LMS_NAMES
    assert (hub.DEFAULT_DIR, hub.DEFAULT_EXCHANGE) == (cli.HUB_DIR, cli.HUB_EXCHANGE)
