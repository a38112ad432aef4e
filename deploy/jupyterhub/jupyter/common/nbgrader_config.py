"""nbgrader settings every server of the hub shares (students', instructors' and the course service's).

The hub puts this folder on each server's JUPYTER_CONFIG_PATH (deploy/jupyterhub/jupyterhub_config.py); on
a hub of your own, this is the file nbgrader's documentation calls /etc/jupyter/nbgrader_config.py.
"""
import os

from nbgrader.auth import JupyterHubAuthPlugin

c = get_config()  # noqa: F821  (provided by nbgrader)

# One exchange for every course of the hub: students release, fetch and submit through it. Each course has
# its own folder in it (path_includes_course), so a second course can share the hub.
c.Exchange.root = os.environ.get("DL_COURSE_EXCHANGE", "/srv/nbgrader/exchange")
c.Exchange.path_includes_course = True
c.Exchange.timezone = "UTC"
# A student's courses are the hub groups nbgrader-<course_id> they are in (formgrade-<course_id> for graders).
c.Authenticator.plugin_class = JupyterHubAuthPlugin
