"""`/mlplat profile <dataset>`: a signed slash command into the real bolt app; the summary posted, the HTML
report uploaded through files_upload_v2 (files.getUploadURLExternal, the bytes, files.completeUploadExternal)."""

from __future__ import annotations


def test_profile_posts_the_summary_and_uploads_the_html_report(slack):
    slack.standin.clear()
    assert slack.command("UVIEW", "profile churn")[0] == 200
    post = next(p for p in slack.standin.of("chat.postMessage") if "Data profile" in str(p.get("blocks")))
    assert "2,000 rows x 7 columns" in post["blocks"] and "monthly_charges" in post["blocks"]
    assert slack.standin.of("files.getUploadURLExternal") and slack.standin.of("files.completeUploadExternal")
    page = slack.standin.uploads[-1]
    assert page.startswith(b"<!doctype html>") and b"Data profile: churn" in page and b"<script" not in page
    completed = slack.standin.of("files.completeUploadExternal")[-1]
    assert completed["thread_ts"] == post["_ts"] and "profile-churn.html" in slack.standin.of(
        "files.getUploadURLExternal")[-1]["filename"]
    assert slack.audit("bot.command", "UVIEW")


def test_profile_of_an_unknown_dataset_or_without_one_is_one_clear_line(slack):
    slack.standin.clear()
    slack.command("UVIEW", "profile nope")
    slack.command("UVIEW", "profile")
    replies = [p["text"] for p in slack.standin.of("chat.postEphemeral")]
    assert "'nope' is not a known dataset" in replies[0] and "churn" in replies[0]
    assert replies[1].startswith(":no_entry: usage: /mlplat profile <dataset>")
    assert not slack.standin.uploads
