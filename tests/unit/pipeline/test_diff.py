"""The noop diff: `diff -u` text, and the masked form for sensitive files."""

from __future__ import annotations

from confpy.pipeline.diff import colorize, masked_diff, unified_diff


def test_unified_diff_labels_both_sides_with_the_path() -> None:
    diff = unified_diff("a\nb\nc\n", "a\nB\nc\n", label="/etc/app.conf")
    assert diff == ("--- /etc/app.conf\n+++ /etc/app.conf\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n")


def test_new_file_is_diffed_against_empty() -> None:
    diff = unified_diff("", "x = 1\ny = 2\n", label="/etc/new.conf")
    assert diff == "--- /etc/new.conf\n+++ /etc/new.conf\n@@ -0,0 +1,2 @@\n+x = 1\n+y = 2\n"


def test_missing_final_newline_is_marked_and_lines_stay_separate() -> None:
    diff = unified_diff("a\nb", "a\nb\n", label="f")
    assert diff == "--- f\n+++ f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"


def test_identical_texts_have_an_empty_diff() -> None:
    assert unified_diff("same\n", "same\n", label="f") == ""
    assert masked_diff("same\n", "same\n", label="f") == ""


def test_masked_diff_counts_lines_and_shows_no_values() -> None:
    old = "user = admin\npassword = hunter2\nport = 1\n"
    new = "user = admin\npassword = s3cret\nport = 2\nextra = yes\n"
    diff = masked_diff(old, new, label="/etc/secret.conf")
    assert diff == (
        "--- /etc/secret.conf\n+++ /etc/secret.conf\n"
        "@@ sensitive: 2 lines removed, 3 lines added (values hidden) @@\n"
    )
    for value in ("hunter2", "s3cret", "admin", "extra"):
        assert value not in diff


def test_masked_diff_singular_and_newline_only_change() -> None:
    assert "1 line removed, 1 line added" in masked_diff("k = v", "k = v\n", label="f")
    assert "0 lines removed, 1 line added" in masked_diff("", "k = v\n", label="f")


def test_colorize_keeps_every_line_and_colours_it_as_git_does() -> None:
    diff = unified_diff("a\nb\n", "a\nc", label="/etc/x")
    coloured = colorize(diff)
    assert coloured.count("\n") == diff.count("\n")
    assert "\033[31m-b\033[0m\n" in coloured and "\033[32m+c\033[0m\n" in coloured
    assert coloured.startswith("\033[1m--- /etc/x\033[0m\n\033[1m+++ /etc/x\033[0m\n\033[36m@@")
    assert " a\n" in coloured and "\\ No newline at end of file\n" in coloured  # context stays plain
