"""nbgrader settings every server of the hub shares (students', instructors' and the course service's).

The hub puts this folder on each server's JUPYTER_CONFIG_PATH (deploy/jupyterhub/jupyterhub_config.py); on
a hub of your own, this is the file nbgrader's documentation calls /etc/jupyter/nbgrader_config.py.
"""
import os

from nbgrader.auth import JupyterHubAuthPlugin

from course.coursedir import use_course_exchange

c = get_config()  # noqa: F821  (provided by nbgrader)

# One exchange for every course of the hub: students release, fetch and submit through it. Each course has
# its own folder in it (path_includes_course), so a second course can share the hub.
c.Exchange.root = os.environ.get("DL_COURSE_EXCHANGE", "/srv/nbgrader/exchange")
c.Exchange.path_includes_course = True
c.Exchange.timezone = "UTC"
# The course's exchange steps (course/grading/exchange.py): students' fetch, submit and list refuse an exchange
# whose permissions a student could subvert, and submit copies no link; the grader's collect trusts no file.
use_course_exchange(c)
# A student's courses are the hub groups nbgrader-<course_id> they are in (formgrade-<course_id> for graders).
c.Authenticator.plugin_class = JupyterHubAuthPlugin
