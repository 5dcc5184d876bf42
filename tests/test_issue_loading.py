"""Loading an issue: every field of the model, and a located one-line error for each mistake."""

from __future__ import annotations

import shutil
import time
import tracemalloc
from pathlib import Path

import pytest

from mailer.compose.images import EmbeddedImages
from mailer.compose.issue import load, load_issue
from mailer.compose.render import render_issue
from mailer.errors import ConfigError, InputError
from mailer.settings import load_settings

FULL_ISSUE = """
id: 2026-01-test
subject: "Şanlıurfa’da yeni merkez"
preheader: A short summary
period: "January – March 2026"
language: tr
title: Bülten
lead:
  title: Lead story
  image:
    src: assets/photo.png
    alt: Children painting together
    caption: Children at the *art* workshop.
    credit: IOM / Lanna Walsh
  body: |
    First paragraph with [a link](https://turkiye.iom.int/a).
  links:
    - label: Read more
      url: https://turkiye.iom.int/news/lead
    - label: Share on
      url: https://www.facebook.com/sharer/sharer.php?u=https://turkiye.iom.int/news/lead
sections:
  - title: Our Stories
    intro: Stories from the field.
    items:
      - body: Delbaz from Al-Hasakeh.
        quote:
          text: It was hard at the beginning.
          attribution: Delbaz
        links:
          - label: Watch here
            url: https://www.youtube.com/watch?v=abc
      - title: Decorative
        image: {src: assets/photo.png, alt: ""}
footer:
  reason: You asked for it.
brand:
  primary_color: "#112233"
social:
  - network: medium
    url: https://medium.com/@UNmigration
"""


def test_every_field_of_a_full_issue_is_loaded(project):
    path = project.write_issue(FULL_ISSUE)
    loaded = load_issue(path, load_settings(project.settings))
    issue = loaded.issue
    assert issue.id == "2026-01-test"
    assert issue.subject == "Şanlıurfa’da yeni merkez"
    assert issue.preheader == "A short summary"
    assert issue.period == "January – March 2026"
    assert issue.language == "tr"
    assert issue.text_direction == "ltr"
    assert issue.title == "Bülten"
    assert issue.lead.image.alt == "Children painting together"
    assert issue.lead.image.credit == "IOM / Lanna Walsh"
    assert [link.label for link in issue.lead.links] == ["Read more", "Share on"]
    story = issue.sections[0].items[0]
    assert story.quote.text == "It was hard at the beginning."
    assert story.quote.attribution == "Delbaz"
    assert story.links[0].url == "https://www.youtube.com/watch?v=abc"
    assert issue.sections[0].items[1].image.alt == ""  # decorative
    assert loaded.image_path(issue.lead.image) == (path.parent / "assets/photo.png").resolve()
    # Settings fill in what the issue leaves out; the issue overrides what it sets.
    assert loaded.brand.primary_color == "#112233"
    assert loaded.brand.organisation == "IOM Turkey"
    assert loaded.footer.reason == "You asked for it."
    assert "Çankaya, Ankara" in loaded.footer.postal_address
    assert [link.network for link in loaded.social] == ["medium"]
    assert loaded.sender.address == "newsletter@iom.int"


def test_arabic_issue_is_right_to_left(project):
    path = project.write_issue("id: ar\nsubject: نشرة\nlanguage: ar\n")
    assert load_issue(path, load_settings(project.settings)).issue.text_direction == "rtl"


def test_settings_social_links_are_used_when_the_issue_has_none(project):
    path = project.write_issue("id: plain\nsubject: Hello\n")
    loaded = load_issue(path, load_settings(project.settings))
    assert len(loaded.social) == 7
    assert loaded.social[0].url == "https://www.facebook.com/IOM/"


BAD_INPUTS = [
    pytest.param(
        "id: x\nsubject: s\nlead:\n  tittle: Hello\n",
        "issue.yaml:4:3: lead.tittle: unknown field 'tittle' (did you mean 'title'?)",
        id="unknown-field-did-you-mean",
    ),
    pytest.param(
        "id: x\nlead:\n  title: t\n",
        "issue.yaml:1:1: subject: missing required field 'subject'",
        id="missing-field",
    ),
    pytest.param(
        "id: x\nsubject: s\nsections: 3\n",
        "issue.yaml:3:1: sections: input should be a valid list",
        id="wrong-type",
    ),
    pytest.param(
        "id: x\nsubject: s\nlead:\n  title: t\n  links:\n    - label: Read more\n"
        "      url: htp:/example\n",
        "issue.yaml:7:7: lead.links[0].url: not a valid URL: 'htp:/example' "
        "(expected one starting with https://)",
        id="bad-url",
    ),
    pytest.param(
        "id: x\nsubject: s\nlead:\n  title: t\n  image:\n    src: assets/photo.png\n",
        'issue.yaml:5:3: lead.image.alt: missing alt text (write alt: "" if the image is only '
        "decorative)",
        id="image-without-alt",
    ),
    pytest.param(
        "id: x\nsubject: s\nlead:\n  title: [unclosed\n",
        "issue.yaml:5:1: YAML syntax error:",
        id="broken-yaml",
    ),
    pytest.param(
        "id: x\nsubject: s\nlead:\n  title: t\n  image:\n    src: assets/missing.png\n"
        "    alt: A photo\n",
        "issue.yaml:6:5: lead.image.src: image file not found: assets/missing.png "
        "(paths are relative to the YAML file)",
        id="missing-local-image",
    ),
    pytest.param("", "issue.yaml:1: the file is empty", id="empty-file"),
    pytest.param(
        "id: x\nsubject: Hello {{ subscriber.frist_name }}\n",
        "issue.yaml:2:1: subject: unknown merge field 'subscriber.frist_name' "
        "(did you mean 'first_name'?)",
        id="unknown-merge-field",
    ),
    pytest.param(
        "id: x\nsubject: s\nlanguage: english\n",
        "issue.yaml:3:1: language: not a BCP 47 language tag: 'english'",
        id="bad-language",
    ),
    pytest.param(
        "id: x\nsubject: s\nsections:\n  - title: Empty\n    items: []\n",
        "issue.yaml:5:5: sections[0].items: list should have at least 1 item",
        id="empty-section",
    ),
    pytest.param(
        "id: x\nsubject: \"two\\nlines\"\n",
        "issue.yaml:2:1: subject: must be a single line (no line breaks)",
        id="subject-line-break",
    ),
    pytest.param(
        "id: first\nsubject: s\nid: second\n",
        "issue.yaml:3:1: duplicate key 'id' (first on line 1)",
        id="duplicate-id",
    ),
    pytest.param(
        "id: x\nsubject: s\ndate: 2018-03\n",
        "issue.yaml:3:1: date: not a day: '2018-03' (write it as YYYY-MM-DD, such as 2018-03-31)",
        id="date-without-a-day",
    ),
    pytest.param(
        "id: x\nsubject: s\ndate: 2018-03-31 10:00:00\n",
        "issue.yaml:3:1: date: not a day: '2018-03-31 10:00:00'",
        id="date-with-a-time",
    ),
    pytest.param(
        "id: x\nsubject: s\narchive: perhaps\n",
        "issue.yaml:3:1: archive: input should be a valid boolean",
        id="archive-not-a-boolean",
    ),
    pytest.param(
        "id: x\nsubject: s\nlead:\n  title: One\n  body: b\n  title: Two\n",
        "issue.yaml:6:3: duplicate key 'title' (first on line 4)",
        id="duplicate-nested-key",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_INPUTS)
def test_bad_input_gives_one_located_line(project, text, expected):
    path = project.write_issue(text)
    with pytest.raises(InputError) as caught:
        load_issue(path, load_settings(project.settings))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path.parent) + "/")
    assert message.removeprefix(str(path.parent) + "/").startswith(expected)


def test_bad_settings_are_located_in_mailer_toml(project):
    text = project.settings.read_text(encoding="utf-8")
    text = text.replace('primary_color = "#0033A0"', 'primary_color = "blue"')
    project.settings.write_text(text, encoding="utf-8")
    line = text.splitlines().index('primary_color = "blue"') + 1
    with pytest.raises(InputError) as caught:
        load_settings(project.settings)
    assert str(caught.value) == (
        f"{project.settings}:{line}: brand.primary_color: not a colour: 'blue' (expected #RRGGBB)"
    )


def test_a_bad_environment_override_is_blamed_on_the_variable(project):
    with pytest.raises(ConfigError) as caught:
        load_settings(project.settings, env={"MAILER_CONCURRENCY": "abc"})
    assert str(caught.value) == (
        "environment variable MAILER_CONCURRENCY: "
        "input should be a valid integer, unable to parse string as an integer"
    )
    assert str(project.settings) not in str(caught.value)


def test_a_good_environment_override_replaces_mailer_toml(project):
    loaded = load_settings(project.settings, env={"MAILER_CONCURRENCY": "8"})
    assert loaded.settings.send.concurrency == 8


def _fourth_social_entry(text: str) -> tuple[int, int]:
    """The lines of the fourth ``[[social]]`` header and of the ``network =`` below it."""
    lines = text.splitlines()
    header = [n for n, line in enumerate(lines, 1) if line == "[[social]]"][3]
    network = next(n for n, line in enumerate(lines, 1) if n > header and "network" in line)
    return header, network


def test_a_bad_value_in_a_later_social_entry_is_located_in_that_entry(project):
    text = project.settings.read_text(encoding="utf-8")
    _header, network = _fourth_social_entry(text)
    lines = text.splitlines(keepends=True)
    lines[network - 1] = 'network = "My Space"\n'
    project.settings.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(project.settings, env={})
    assert str(caught.value).startswith(f"{project.settings}:{network}: social.3.network: ")
    assert "not a network name: 'My Space'" in str(caught.value)


def test_a_network_the_theme_has_no_icon_for_is_an_error_at_its_entry(project):
    text = project.settings.read_text(encoding="utf-8")
    _header, network = _fourth_social_entry(text)
    lines = text.splitlines(keepends=True)
    lines[network - 1] = 'network = "myspace"\n'
    project.settings.write_text("".join(lines), encoding="utf-8")
    path = project.write_issue("id: x\nsubject: Hello\nlead:\n  title: A story\n")
    with pytest.raises(InputError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"{project.settings}:{network}: social[3].network: ")
    assert "the theme has no icon for 'myspace'" in message and "facebook" in message
    assert message.endswith("templates/icons/myspace.png")


def test_adding_a_social_network_is_an_icon_and_a_line_of_data(project):
    """No code: the project's templates/ gets the icon, and social.toml the network's name."""
    own = project.root / "templates"
    shutil.copy(own / "icons" / "website.png", own / "icons" / "pixelfed.png")
    names = (own / "social.toml").read_text(encoding="utf-8")
    (own / "social.toml").write_text(names + 'pixelfed = "Pixelfed"\n', encoding="utf-8")
    with project.settings.open("a", encoding="utf-8") as settings:
        settings.write('\n[[social]]\nnetwork = "pixelfed"\nurl = "https://pixelfed.social/iom"\n')
    path = project.write_issue("id: x\nsubject: Hello\nlead:\n  title: A story\n")
    rendered = render_issue(load(path), EmbeddedImages("iom.int"))
    assert 'href="https://pixelfed.social/iom"' in rendered.html
    assert 'alt="Pixelfed"' in rendered.html
    assert "https://pixelfed.social/iom" in rendered.text.split()


def test_a_missing_key_in_a_later_social_entry_points_at_its_header(project):
    text = project.settings.read_text(encoding="utf-8")
    header, network = _fourth_social_entry(text)
    lines = text.splitlines(keepends=True)
    del lines[network]  # the url line right below the network
    project.settings.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(project.settings, env={})
    assert str(caught.value) == (
        f"{project.settings}:{header}: social.3.url: missing required field 'url'"
    )


def test_a_send_key_that_is_not_a_table_is_an_error_even_with_overrides(project):
    tables = project.settings.read_text(encoding="utf-8").split("[send]")[0]
    project.settings.write_text('send = "outbox"\n' + tables, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(project.settings, env={"MAILER_TRANSPORT": "outbox://elsewhere"})
    assert str(caught.value) == (
        f"{project.settings}: send: input should be a valid dictionary or instance of SendSettings"
    )


# --- Files that must not cost much to refuse --------------------------------------------------

# The classic "billion laughs": 612 bytes that would expand to 9⁹ (387 million) strings.
BILLION_LAUGHS = 'lol1: &lol1 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"lol{n}: &lol{n} [{','.join([f'*lol{n - 1}'] * 9)}]\n" for n in range(2, 10)
)


def _load_error(project, text: str | bytes) -> str:
    path = project.root / "issues" / "issue.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    with pytest.raises(InputError) as caught:
        load_issue(path, load_settings(project.settings))
    message = str(caught.value)
    assert "\n" not in message
    return message.removeprefix(str(path))


def test_an_alias_bomb_is_refused_at_its_line_before_it_grows(project):
    assert len(BILLION_LAUGHS) == 612
    settings = load_settings(project.settings)
    path = project.write_issue(BILLION_LAUGHS)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(InputError) as caught:
            load_issue(path, settings)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # lol4 already stands for 7,381 values: the first *lol4 takes the count over 10,000.
    assert str(caught.value) == (
        f"{path}:5:14: more than 10,000 values (keys, list items and texts, each alias "
        "counted as all the values it repeats)"
    )
    assert seconds < 1, f"took {seconds:.2f} s"
    assert peak < 10 * 2**20, f"peak traced memory {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "id: x\nsubject: s\na: &a [*a]\n",
            ":3:8: the alias *a is inside the value &a it repeats, which would never end",
            id="self-alias",
        ),
        pytest.param(
            "id: x\nsubject: s\nlead: &lead\n  title: t\n  body: *lead\n",
            ":5:9: the alias *lead is inside the value &lead it repeats, which would never end",
            id="alias-inside-its-mapping",
        ),
        pytest.param(
            "id: x\nsubject: s\nsections: " + "[" * 60 + "]" * 60 + "\n",
            ":3:60: values nested more than 50 levels deep",
            id="too-deep",
        ),
        pytest.param(
            "id: x\nsubject: s\nsections: [" + "0, " * 200_000 + "0]\n",
            ":3:", id="too-many-values",
        ),
    ],
)
def test_a_file_that_would_not_end_or_would_cost_too_much_is_one_located_line(
    project, text, expected
):
    assert _load_error(project, text).startswith(expected)


def test_an_issue_file_over_2_mb_is_refused_with_its_size(project):
    text = "id: x\nsubject: s\n" + "# padding\n" * 300_000
    assert _load_error(project, text) == (
        ": the file is 2.9 MB, more than the 2 MB an issue file may have"
    )


def test_latin_1_text_names_the_line_of_the_first_wrong_byte(project):
    text = "id: x\nsubject: s\nlead:\n  title: t\n  body: Café, çay\n"
    assert _load_error(project, text.encode("latin-1")) == (
        ":5: not UTF-8 text (invalid continuation byte)"
    )


def test_an_anchor_used_twice_still_works(project):
    path = project.write_issue(
        """
        id: x
        subject: s
        sections:
          - title: One
            items:
              - &story {title: Shared story, body: Told twice.}
          - title: Two
            items:
              - *story
        """
    )
    issue = load_issue(path, load_settings(project.settings)).issue
    assert [s.items[0].title for s in issue.sections] == ["Shared story", "Shared story"]


# --- Files named by an issue stay inside the project folder ---------------------------------

LEAD_IMAGE = "id: x\nsubject: s\nlead:\n  title: t\n  image:\n    src: {src}\n    alt: A photo\n"


def _outside_file(project) -> Path:
    """A real image beside the project folder: refused because of where it is, not missing."""
    outside = project.root.parent / "secret.png"
    shutil.copy(project.root / "issues" / "assets" / "photo.png", outside)
    return outside


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        pytest.param(
            "/etc/passwd",
            "'/etc/passwd' is an absolute path; name a file inside the project folder {root}, "
            "relative to the file that names it",
            id="absolute",
        ),
        pytest.param(
            "../../secret.png", "'../../secret.png' leads outside the project folder {root}",
            id="dot-dot",
        ),
        pytest.param(
            "assets/link.png",
            "'assets/link.png' leads outside the project folder {root} through a symbolic link",
            id="symlink",
        ),
    ],
)
def test_an_image_outside_the_project_folder_is_refused_at_its_line(project, src, expected):
    (project.root / "issues" / "assets" / "link.png").symlink_to(_outside_file(project))
    message = _load_error(project, LEAD_IMAGE.format(src=src))
    assert message == f":6:5: lead.image.src: {expected.format(root=project.root.resolve())}"


def test_an_item_image_through_a_linked_folder_is_refused(project):
    (project.root / "issues" / "elsewhere").symlink_to(_outside_file(project).parent)
    text = (
        "id: x\nsubject: s\nsections:\n  - title: S\n    items:\n"
        "      - title: t\n        image: {src: elsewhere/secret.png, alt: A photo}\n"
    )
    assert _load_error(project, text).startswith(
        ":7:17: sections[0].items[0].image.src: 'elsewhere/secret.png' leads outside"
    )


def test_a_logo_named_in_the_issue_is_refused_outside_the_project(project):
    text = "id: x\nsubject: s\nbrand:\n  logo: /etc/passwd\n"
    assert _load_error(project, text).startswith(
        ":4:3: brand.logo: '/etc/passwd' is an absolute path"
    )


@pytest.mark.parametrize("logo", ["/etc/passwd", "../secret.png", "issues/assets/link.png"])
def test_a_logo_in_mailer_toml_is_refused_outside_the_project(project, logo):
    (project.root / "issues" / "assets" / "link.png").symlink_to(_outside_file(project))
    text = project.settings.read_text(encoding="utf-8")
    line = text.splitlines().index('logo = "issues/assets/iom-logo.png"') + 1
    project.settings.write_text(
        text.replace('logo = "issues/assets/iom-logo.png"', f'logo = "{logo}"'), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(project.settings)
    assert str(caught.value).startswith(f"{project.settings}:{line}: brand.logo: '{logo}' ")
    assert str(project.root.resolve()) in str(caught.value)


def test_an_issue_in_a_subfolder_may_use_images_elsewhere_in_the_project(project):
    path = project.write_issue(LEAD_IMAGE.format(src="../assets/photo.png"), "2026/x.yaml")
    loaded = load_issue(path, load_settings(project.settings))
    photo = project.root / "issues" / "assets" / "photo.png"
    assert loaded.image_path(loaded.issue.lead.image) == photo.resolve()
