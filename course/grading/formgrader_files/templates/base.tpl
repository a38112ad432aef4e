{#- The course's Formgrader pages: nbgrader's base.tpl, plus the review status of every submission
    (flags and their reasons, rejections, names) drawn by review.js (course/grading/formgrader.py). -#}
{%- extends 'nbgrader/base.tpl' -%}

{%- block script -%}
{{ super() }}
<link rel="stylesheet" href="{{ base_url }}/dl-course/static/review.css" />
<script src="{{ base_url }}/dl-course/static/review.js"></script>
{%- endblock script -%}
