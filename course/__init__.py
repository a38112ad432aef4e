"""Deep-learning course exercises: helpers shared by the notebooks (`course.helpers`) and the
nbgrader feedback preprocessor (`course.feedback`)."""

__version__ = "0.1.0"
