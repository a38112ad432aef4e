"""Deep-learning course exercises: the students' helpers shared by the notebooks (`course.helpers`) and the
instructors' grading pipeline (`course.grading`, one module per stage; the `dl-course` command is `course.cli`)."""

__version__ = "0.1.0"
