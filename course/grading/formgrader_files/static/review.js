// The course's additions to nbgrader's Formgrader pages (course/grading/formgrader.py): each submission's
// review status from `dl-course/api/review/<exercise>` (the rules of grades.csv): a red "flagged" or
// "rejected" label with its reason on hover and under it, and the student's id where nbgrader would write
// "None, None". nbgrader's Backbone views draw (and redraw) the rows after the page has loaded, so the
// rows are decorated whenever the table changes.
(function () {
    "use strict";

    var LABELS = {flagged: "label-danger", rejected: "label-danger"};
    var NO_NAME = "None, None";

    function fetchReview(exercise, student, done) {
        var url = base_url + "/dl-course/api/review/" + encodeURIComponent(exercise);
        if (student) url += "?student=" + encodeURIComponent(student);
        $.getJSON(url, function (data) { done(data.students || {}); });
    }

    function reviewLabel(info) {
        var label = $("<span/>").addClass("label dl-course-review " + LABELS[info.status])
            .attr("title", info.reason).text(info.status === "flagged" ? "flagged: held back" : info.status);
        var reason = $("<span/>").addClass("dl-course-reason").text(info.reason);
        return [label, reason];
    }

    function watch(table, decorate) {
        decorate();
        new MutationObserver(function () { decorate(); }).observe(table, {childList: true, subtree: true});
    }

    // Manage Submissions: one row per student of `assignment_id`.
    function manageSubmissions(statuses) {
        watch(document.getElementById("main-table"), function () {
            $("#main-table tr").each(function () {
                var row = $(this);
                var student = row.find("td.student-id").text();
                var info = statuses[student];
                if (!info) return;
                var name = row.find("td.student-name");
                var link = name.find("a");
                var target = link.length ? link : name;
                if (target.text() === NO_NAME) target.text(info.name);
                var status = row.find("td.status");
                if (LABELS[info.status] && !status.find(".dl-course-review").length) {
                    status.find(".label-success").remove();   // not "graded": held back until reviewed
                    status.append(reviewLabel(info));
                }
            });
        });
    }

    // A student's notebooks of one assignment (nbgrader shows a flag icon there): the reason beside it.
    function studentNotebooks(statuses) {
        var info = statuses[student_id];
        if (!info || !LABELS[info.status]) return;
        watch(document.getElementById("main-table"), function () {
            $("#main-table tr").each(function () {
                var cell = $(this).find("td.flagged");
                if (cell.length && !cell.find(".dl-course-review").length) cell.append(reviewLabel(info));
            });
        });
    }

    // A student's assignments: the status beside each assignment that needs a look.
    function studentAssignments() {
        var seen = {};
        watch(document.getElementById("main-table"), function () {
            $("#main-table tr").each(function () {
                var row = $(this);
                var exercise = row.find("td.name").text();
                if (!exercise || seen[exercise]) return;
                seen[exercise] = true;
                fetchReview(exercise, student_id, function (statuses) {
                    var info = statuses[student_id];
                    if (info && LABELS[info.status]) row.find("td.name").append(reviewLabel(info));
                });
            });
        });
    }

    // The list of students: their id where the roster gave no name.
    function students() {
        watch(document.getElementById("main-table"), function () {
            $("#main-table td.name").each(function () {
                var cell = $(this);
                var target = cell.find("a").length ? cell.find("a") : cell;
                if (target.text() === NO_NAME) target.text(cell.closest("tr").find("td.id").text());
            });
        });
    }

    $(function () {
        var page = window.location.pathname;
        if (!document.getElementById("main-table")) return;
        if (/\/formgrader\/manage_submissions\//.test(page) && typeof assignment_id !== "undefined") {
            fetchReview(assignment_id, null, manageSubmissions);
        } else if (/\/formgrader\/manage_students\/[^/]+\/[^/]+/.test(page)) {
            fetchReview(assignment_id, student_id, studentNotebooks);
        } else if (/\/formgrader\/manage_students\/[^/]+\/?$/.test(page)) {
            studentAssignments();
        } else if (/\/formgrader\/manage_students\/?$/.test(page)) {
            students();
        }
    });
})();
