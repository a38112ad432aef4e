"""Feedback renders its math with the Jupyter server's own MathJax, the CDN only when that is not there.

nbgrader's feedback template calls nbconvert's `mathjax()` macro without arguments, so every feedback page
loads MathJax from cdnjs (`HTMLExporter.mathjax_url` is not used) and shows raw TeX offline. JupyterLab's own
MathJax lives inside its webpack bundles and cannot be loaded by a page; `jupyter-server-mathjax` (installed
with the course, enabled where it is installed) serves MathJax 2.7 at `<base_url>static/jupyter_server_mathjax/`.

`FeedbackHTMLExporter` (`c.GenerateFeedback.exporter_class`) is nbconvert's HTMLExporter with that macro
replaced: a page served by a Jupyter server (`<base_url>files/...` or `<base_url>view/...`, JupyterLab's
*Open in New Browser Tab* and its HTML viewer, on JupyterHub too) takes the server's MathJax; a page opened
any other way (a file from the LMS, `file://`), or one whose server lacks the extension, falls back to the CDN;
with neither, the TeX stays as the student wrote it, readable. Nothing else in the page changes.
"""

from jinja2 import DictLoader
from nbconvert.exporters import HTMLExporter
from traitlets import default

CDN_URL = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js?config=TeX-AMS_CHTML-full,Safe"
LOCAL_PATH = "static/jupyter_server_mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"  # the configs it ships

# Replaces nbconvert's templates/base/mathjax.html.j2 (same name, same macro, same MathJax configuration).
MATHJAX_MACRO = r"""
{%- macro mathjax(url="__CDN__") -%}
    <!-- MathJax: the Jupyter server's own (jupyter-server-mathjax) when a server serves this page, else the CDN;
         without either, the TeX stays as written (course.grading.mathjax) -->
    <script type="text/javascript">
    (function () {
        window.MathJax = {
            TeX: {equationNumbers: {autoNumber: "AMS", useLabelIds: true}},
            tex2jax: {inlineMath: [["$", "$"], ["\\(", "\\)"]], displayMath: [["$$", "$$"], ["\\[", "\\]"]],
                      processEscapes: true, processEnvironments: true},
            displayAlign: "center",
            messageStyle: "none",
            CommonHTML: {linebreaks: {automatic: true}},
            // the fonts jupyter-server-mathjax ships (as the classic Notebook configured it)
            "HTML-CSS": {availableFonts: [], imageFont: null, preferredFont: null, webFont: "STIX-Web",
                         linebreaks: {automatic: true}}
        };
        var sources = [];
        var server = /^(https?:\/\/[^\/?#]+\/(?:[^?#]*?\/)?)(?:files|view)\//.exec(document.baseURI || location.href);
        if (server) { sources.push(server[1] + {{ "__LOCAL__" | tojson }}); }
        sources.push({{ url | tojson }});
        function load(i) {
            if (i >= sources.length) { return; }   // no MathJax reachable: the TeX stays readable as written
            var script = document.createElement("script");
            script.src = sources[i];
            script.onerror = function () { script.parentNode.removeChild(script); load(i + 1); };
            document.head.appendChild(script);
        }
        load(0);
    })();
    </script>
{%- endmacro %}
""".replace("__CDN__", CDN_URL).replace("__LOCAL__", LOCAL_PATH)


class FeedbackHTMLExporter(HTMLExporter):
    """nbconvert's HTMLExporter (nbgrader's feedback template and settings) whose MathJax is the server's first."""

    @default("extra_loaders")
    def _extra_loaders_default(self):
        return [DictLoader({"mathjax.html.j2": MATHJAX_MACRO})]   # tried before nbconvert's template folders
