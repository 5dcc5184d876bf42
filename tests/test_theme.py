"""Themes travel: the default theme ships inside the package, and a project's own
``templates/`` overrides it file by file."""

from __future__ import annotations

import shutil
from pathlib import Path

from mailer.checks import accessibility
from mailer.checks.base import template_location
from mailer.compose.images import EmbeddedImages
from mailer.compose.issue import load
from mailer.compose.render import render_issue, theme_of
from mailer.compose.theme import default_folder

REPO = Path(__file__).resolve().parents[1]
ISSUE = """
id: theme-test
subject: A theme test
lead:
  title: The lead story
  body: Its first paragraph.
"""


def render(path: Path):
    return render_issue(load(path), EmbeddedImages("iom.int"))


def test_the_default_theme_is_the_repositorys_templates_folder():
    shipped = default_folder()
    for name in ("newsletter.mjml.j2", "newsletter.txt.j2", "labels.toml", "icons/facebook.png"):
        assert (shipped / name).read_bytes() == (REPO / "templates" / name).read_bytes()


def test_a_project_without_templates_renders_with_the_default_theme(project):
    shutil.rmtree(project.root / "templates")
    rendered = render(project.write_issue(ISSUE))
    assert "The lead story" in rendered.html and "Unsubscribe" in rendered.html
    assert "THE LEAD STORY" not in rendered.text and "The lead story" in rendered.text
    theme = theme_of(load(project.root / "issues" / "issue.yaml"))
    assert theme.folders == (default_folder(),)


def test_a_project_overrides_the_theme_file_by_file(project):
    shutil.rmtree(project.root / "templates")
    own = project.root / "templates"
    own.mkdir()
    labels = (default_folder() / "labels.toml").read_text(encoding="utf-8")
    (own / "labels.toml").write_text(
        labels.replace('unsubscribe = "Unsubscribe"', 'unsubscribe = "Leave this list"'),
        encoding="utf-8",
    )
    path = project.write_issue(ISSUE)
    rendered = render(path)
    assert "Leave this list" in rendered.html and "Leave this list" in rendered.text
    assert "The lead story" in rendered.html  # the templates still come from the package

    text = (default_folder() / "newsletter.txt.j2").read_text(encoding="utf-8")
    (own / "newsletter.txt.j2").write_text("Our own text part\n" + text, encoding="utf-8")
    rendered = render(path)
    assert rendered.text.startswith("Our own text part")
    loaded = load(path)
    assert template_location(loaded, "<mjml").path == default_folder() / "newsletter.mjml.j2"
    assert template_location(loaded, "Our own", "newsletter.txt.j2").path == (
        own / "newsletter.txt.j2"
    )


def test_findings_about_the_template_point_at_the_file_in_use(project):
    shutil.rmtree(project.root / "templates")
    path = project.write_issue(ISSUE)
    loaded = load(path)
    location = template_location(loaded, "<mjml")
    assert location.path == default_folder() / "newsletter.mjml.j2" and location.line
    assert accessibility.MIN_CONTRAST  # the checks import cleanly without a templates/ folder


def test_an_older_copy_of_the_labels_gets_the_words_added_since(project):
    own = project.root / "templates" / "labels.toml"
    lines = own.read_text(encoding="utf-8").splitlines()
    own.write_text("\n".join(
        line.replace('"Unsubscribe"', '"Leave this list"') for line in lines
        if not line.startswith("view_in_browser")
    ), encoding="utf-8")
    with project.settings.open("a", encoding="utf-8") as settings:
        settings.write('\n[archive]\nbase_url = "https://news.example.org/"\n')
    english = render(project.write_issue(ISSUE, "english.yaml"))
    assert english.text.startswith("View in browser:\n")  # the shipped theme's word
    assert "Leave this list" in english.text  # the project's own word still wins
    turkish = render(project.write_issue(ISSUE.replace("subject:", "language: tr\nsubject:")))
    assert turkish.text.startswith("Tarayıcıda görüntüle:\n")


def test_two_projects_with_one_template_name_each_render_their_own(tmp_path):
    """Compiled templates are kept by their source, not by their name: a second project in the
    same process (the tests; a preview of another folder) whose template differs gets its own,
    and a template edited between two renders is used at once."""
    from projects import new_project

    first, second = new_project(tmp_path / "first"), new_project(tmp_path / "second")
    template = second.root / "templates" / "newsletter.txt.j2"
    template.write_text("Second project's text\n" + template.read_text(encoding="utf-8"),
                        encoding="utf-8")
    assert not render(first.write_issue(ISSUE)).text.startswith("Second project's text")
    second_issue = second.write_issue(ISSUE)
    assert render(second_issue).text.startswith("Second project's text")
    template.write_text("Edited\n" + template.read_text(encoding="utf-8"), encoding="utf-8")
    assert render(second_issue).text.startswith("Edited\nSecond project's text")
    assert any((second.root / ".mailer" / "template-cache").iterdir())  # kept for the next run


def test_an_unchanged_issue_is_inlined_once_and_an_edited_one_anew(project, monkeypatch):
    """The inlined HTML is kept in the template cache: a second render of the same issue (the
    next command) uses it without premailer; an edit is inlined anew, never answered with the
    old copy; and the live preview's many saves leave only the newest copies."""
    from mailer.compose import render as rendering

    path = project.write_issue(ISSUE)
    first = render(path).html

    def no_premailer(html: str) -> str:
        raise AssertionError("inlined again")

    with monkeypatch.context() as patched:
        patched.setattr(rendering, "inline_css", no_premailer)
        assert render(path).html == first
    (kept,) = (project.root / ".mailer" / "template-cache").glob("inlined-*.html")
    kept.write_text("", encoding="utf-8")  # a copy a power cut left empty is never sent
    assert render(path).html == first
    assert kept.read_text(encoding="utf-8") == first
    path.write_text(ISSUE.replace("Its first paragraph.", "An edited paragraph."),
                    encoding="utf-8")
    edited = render(path).html
    assert "An edited paragraph." in edited and "Its first paragraph." not in edited
    assert 'style="' in edited  # inlined, as the first
    for n in range(rendering._INLINED_KEPT + 5):
        path.write_text(ISSUE.replace("Its first paragraph.", f"Save number {n}."),
                        encoding="utf-8")
        render(path)
    kept = list((project.root / ".mailer" / "template-cache").glob("inlined-*.html"))
    assert len(kept) == rendering._INLINED_KEPT
