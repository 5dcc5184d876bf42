"""The offline content checks: images, size, accessibility, deliverability.

Each check gets a failing case and a passing case. Failing cases are small issue files in a
throwaway project, or, where the real template can never produce the fault, the rendered email
with the fault written into it, handed straight to the check.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from mailer.checks import CheckOptions, Finding, accessibility, deliverability, images, size
from mailer.checks.accessibility import contrast_ratio
from mailer.compose.editions import load_editions
from mailer.compose.issue import load
from mailer.compose.merge import UNSUBSCRIBE_KEY, token
from mailer.delivery.prepare import Prepared, prepare
from mailer.errors import InputError

OFFLINE = CheckOptions(offline=True)
ROOT = Path(__file__).resolve().parents[1]

CLEAN = """
id: content-test
subject: Clean water for 8,600 people
preheader: How a small grant changed a district.
lead:
  title: Clean water for 8,600 people
  image:
    src: assets/photo.png
    alt: Volunteers unloading jerrycans of water from a truck
  body: The district's new pumps run on solar power.
  links:
    - label: Read more
      url: https://turkiye.iom.int/news/clean-water
sections:
  - title: More news
    items:
      - title: A library opens in Kilis
        links:
          - label: Read more
            url: https://turkiye.iom.int/news/library
"""


def issue(project, text: str = CLEAN, **replacements: str) -> Path:
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return project.write_issue(text)


def prepared(path: Path) -> Prepared:
    return prepare(load(path), real_send=False)


def run(check, subject: Path | Prepared) -> list[Finding]:
    ready = prepared(subject) if isinstance(subject, Path) else subject
    return check.check(ready.loaded, ready, options=OFFLINE)


def problems(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity != "info"]


def only(findings: list[Finding], words: str) -> Finding:
    matching = [f for f in findings if words in f.message]
    assert len(matching) == 1, findings
    assert matching[0].fix
    return matching[0]


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def with_rendered(ready: Prepared, **changes: str) -> Prepared:
    return replace(ready, rendered=replace(ready.rendered, **changes))


# --- images -----------------------------------------------------------------------------------


def test_images_pass_with_real_alt_text_and_a_sensible_file(project):
    findings = run(images, issue(project))
    assert problems(findings) == []
    assert any("photo.png: PNG, " in f.message and "600×400 px" in f.message for f in findings)


def test_an_alt_text_that_is_a_file_name_is_an_error(project):
    path = issue(project, **{
        "alt: Volunteers unloading jerrycans of water from a truck": "alt: IMG_2041.jpg"
    })
    finding = only(run(images, path), "is a file name")
    assert finding.severity == "error"
    assert finding.location.line == line_of(path, "alt: IMG_2041.jpg")


def test_a_linked_image_without_alt_text_is_an_error(project):
    path = issue(project, **{
        "alt: Volunteers unloading jerrycans of water from a truck":
            'alt: ""\n    link: https://turkiye.iom.int/news/clean-water',
    })
    assert only(run(images, path), "alt text is empty").severity == "error"


def test_a_file_that_is_not_an_image_is_an_error(project):
    (project.root / "issues" / "assets" / "fake.png").write_text("not a picture")
    path = issue(project, **{"src: assets/photo.png": "src: assets/fake.png"})
    finding = only(run(images, path), "not a readable image")
    assert (finding.severity, finding.location.line) == ("error", line_of(path, "fake.png"))


STARTER_ASSETS = ROOT / "src" / "mailer" / "compose" / "starter" / "issues" / "assets"


def test_the_starter_photo_and_logo_are_errors_by_their_bytes_whatever_their_names(project):
    assets = project.root / "issues" / "assets"
    shutil.copy(STARTER_ASSETS / "photo.png", assets / "lead-2026.png")
    shutil.copy(STARTER_ASSETS / "logo.png", assets / "iom-logo.png")  # as brand.logo names it
    path = issue(project, **{"src: assets/photo.png": "src: assets/lead-2026.png"})
    findings = run(images, path)
    photo = only(findings, "lead-2026.png is the sample photo of mailer init")
    assert (photo.severity, photo.location.path) == ("error", path)
    assert photo.location.line == line_of(path, "src: assets/lead-2026.png")
    assert "photo of your own" in photo.fix
    logo = only(findings, "iom-logo.png is the sample logo of mailer init")
    assert (logo.severity, logo.location.path) == ("error", project.settings)
    assert logo.location.line == line_of(project.settings, "logo = ")
    assert "your organisation's logo" in logo.fix


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("alt", "Photo placeholder"),
        ("caption", "PLACEHOLDER for the caption"),
        ("credit", "Placeholder credit"),
    ],
)
def test_an_image_whose_text_says_placeholder_is_an_error_at_that_line(project, field, text):
    alt = "alt: Volunteers unloading jerrycans of water from a truck"
    written = f"alt: {text}" if field == "alt" else f"{alt}\n    {field}: {text}"
    path = issue(project, **{alt: written})
    finding = only(run(images, path), f"the {field} of photo.png says it is a placeholder")
    assert (finding.severity, finding.location.line) == ("error", line_of(path, text))


def test_an_image_file_named_a_placeholder_is_an_error(project):
    assets = project.root / "issues" / "assets"
    shutil.copy(assets / "photo.png", assets / "Photo_Placeholder.png")
    path = issue(project, **{"src: assets/photo.png": "src: assets/Photo_Placeholder.png"})
    finding = only(run(images, path), "is named a placeholder")
    assert (finding.severity, finding.location.line) == ("error", line_of(path, "Placeholder"))


def noisy_photo(project, width: int, height: int) -> None:
    """A photo that does not compress: width × height × 3 bytes as PNG."""
    picture = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    picture.save(project.root / "issues" / "assets" / "big.png")


def test_a_heavy_wide_image_warns_with_its_size(project):
    noisy_photo(project, 1600, 400)
    path = issue(project, **{"src: assets/photo.png": "src: assets/big.png"})
    findings = run(images, path)
    assert only(findings, "px wide").severity == "warning"
    assert "1600 px" in only(findings, "px wide").message
    assert "resize" in only(findings, "KB; big images").fix


# --- size -------------------------------------------------------------------------------------


def test_a_normal_issue_has_only_a_size_note(project):
    findings = run(size, issue(project))
    assert [f.severity for f in findings] == ["info"]
    assert "Gmail clips at 102 KB" in findings[0].message


def html_bytes(ready: Prepared) -> int:
    return len(ready.rendered.html.encode("utf-8"))


def with_body_of(project, extra: int) -> Path:
    words = "lorem " * (extra // 6)
    return issue(project, **{
        "body: The district's new pumps run on solar power.": f"body: {words.strip()}"
    })


def test_html_past_gmails_clipping_is_an_error(project):
    findings = run(size, with_body_of(project, 110_000))
    assert only(findings, "Gmail will clip it").severity == "error"


def test_html_close_to_gmails_clipping_is_a_warning(project):
    base = html_bytes(prepared(issue(project)))
    findings = run(size, with_body_of(project, 95_000 - base))
    assert only(findings, "close to Gmail's clipping").severity == "warning"


def test_a_message_over_a_megabyte_is_a_warning(project):
    noisy_photo(project, 800, 600)  # 1.4 MB of pixels, base64 makes it bigger
    path = issue(project, **{"src: assets/photo.png": "src: assets/big.png"})
    assert only(run(size, path), "slow to download").severity == "warning"


# --- accessibility ----------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["2018-03-iom-turkey", "2021-01-project-update"])
def test_the_examples_pass_accessibility(example):
    """The Email Markup Consortium's top checks pass in every edition the examples have."""
    editions = load_editions(ROOT / "issues" / f"{example}.yaml")
    for loaded in editions.chosen:
        assert run(accessibility, prepare(loaded, real_send=False)) == [], loaded.path


def test_an_arabic_issue_passes_accessibility(project):
    from test_right_to_left import ARABIC

    named = ARABIC.replace("[هنا]", "[التقرير الكامل]")  # "here" is the writer's to fix
    assert run(accessibility, project.write_issue(named)) == []


def test_a_clean_issue_passes_accessibility(project):
    assert run(accessibility, issue(project)) == []


def test_missing_lang_and_dir_are_errors_pointing_at_the_template(project):
    ready = prepared(issue(project))
    html = ready.rendered.html.replace('lang="en" dir="ltr"', "")
    findings = run(accessibility, with_rendered(ready, html=html))
    assert len([f for f in findings if "has no lang" in f.message]) == 2  # <html> and wrapper
    assert len([f for f in findings if "has no dir" in f.message]) == 2
    template = project.root / "templates" / "newsletter.mjml.j2"
    assert {f.location for f in findings} == {
        replace(findings[0].location, path=template, line=line_of(template, "<mjml"))
    }


def test_a_missing_title_is_an_error(project):
    ready = prepared(issue(project))
    html = re.sub(r"<title>.*?</title>", "", ready.rendered.html)
    assert only(run(accessibility, with_rendered(ready, html=html)), "no <title>").severity == (
        "error"
    )


# A story with a body under its headline (a headline-only story is a line of a list).
WITH_BODY = {"title: A library opens in Kilis\n": "title: A library opens in Kilis\n"
             "        body: Books for everyone.\n"}


def test_two_h1_headings_and_a_skipped_level_are_found(project):
    ready = prepared(issue(project, **WITH_BODY))
    html = ready.rendered.html.replace("<h2", "<h1", 1).replace("</h2>", "</h1>", 1)
    html = html.replace("<h3", "<h5").replace("</h3>", "</h5>")
    findings = run(accessibility, with_rendered(ready, html=html))
    assert only(findings, "2 <h1> headings").severity == "error"
    skipped = only(findings, "a level is skipped")
    assert skipped.severity == "warning"
    assert "A library opens in Kilis" in skipped.message
    assert skipped.location.line == line_of(ready.loaded.path, "title: A library opens")


def test_layout_tables_without_role_presentation_are_an_error(project):
    ready = prepared(issue(project))
    html = ready.rendered.html.replace(' role="presentation"', "")
    assert only(run(accessibility, with_rendered(ready, html=html)), "layout table").severity == (
        "error"
    )


def test_images_without_alt_attribute_are_an_error(project):
    ready = prepared(issue(project))
    html = re.sub(r'<img alt="[^"]*"', "<img", ready.rendered.html)
    finding = only(run(accessibility, with_rendered(ready, html=html)), "no alt attribute")
    assert finding.severity == "error"


@pytest.mark.parametrize("label", ["Click here", "Buraya tıklayın", "اضغط هنا"])
def test_link_text_that_does_not_say_where_is_flagged(project, label):
    path = issue(project, **{"label: Read more\n      url: https://turkiye.iom.int/news/clean":
                             f"label: {label}\n      url: https://turkiye.iom.int/news/clean"})
    finding = only(run(accessibility, path), "does not say where")
    assert finding.severity == "warning"
    assert finding.location.line == line_of(path, "news/clean-water")


def test_identical_link_names_to_different_pages_are_flagged(project):
    ready = prepared(issue(project, **WITH_BODY))
    html = re.sub(r'<span class="m-sr"[^>]*>[^<]*</span>', "", ready.rendered.html)
    finding = only(run(accessibility, with_rendered(ready, html=html)), "all named 'read more'")
    assert finding.severity == "warning"


def test_the_template_names_each_read_more_link_after_its_story(project):
    findings = run(accessibility, issue(project))
    assert not [f for f in findings if "all named" in f.message]


def test_a_light_brand_colour_fails_contrast_and_gets_a_readable_suggestion(project):
    brand = "id: content-test\nbrand:\n  primary_color: '#7D9AD6'"
    path = issue(project, **{"id: content-test": brand})
    findings = run(accessibility, path)
    (finding,) = [f for f in findings if f.message.startswith("brand.primary_color #7D9AD6")]
    assert finding.severity == "error"
    assert finding.location.line == line_of(path, "primary_color")
    suggestion = re.search(r"#[0-9A-F]{6}", finding.fix).group(0)
    assert contrast_ratio(suggestion, "#FFFFFF") >= 4.5
    # The white masthead text on the light band is the other pair that colour spoils.
    (band,) = [f for f in findings if f.message.startswith("brand.masthead_text_color")]
    assert "on brand.primary_color #7D9AD6" in band.message


def test_a_dark_mode_colour_without_contrast_is_an_error_at_its_setting(project):
    brand = "id: content-test\nbrand:\n  dark_muted_color: '#505868'"
    path = issue(project, **{"id: content-test": brand})
    findings = [f for f in run(accessibility, path) if "dark_muted_color" in f.message]
    assert [f.severity for f in findings] == ["error"]
    assert "in dark mode" in findings[0].message
    assert findings[0].location.line == line_of(path, "dark_muted_color")


def test_a_small_body_font_is_a_warning_at_its_setting(project):
    path = issue(project, **{"id: content-test": "id: content-test\nbrand:\n  font_size_px: 12"})
    finding = only(run(accessibility, path), "body text is 12 px")
    assert (finding.severity, finding.location.line) == ("warning", line_of(path, "font_size_px"))


def test_small_text_in_the_template_is_a_warning(project):
    ready = prepared(issue(project))
    html = ready.rendered.html.replace("font-size:14px", "font-size:11px")
    assert only(run(accessibility, with_rendered(ready, html=html)), "11 px").severity == (
        "warning"
    )


# --- deliverability ---------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["2018-03-iom-turkey", "2021-01-project-update"])
def test_the_examples_pass_deliverability_without_errors(example):
    findings = run(deliverability, ROOT / "issues" / f"{example}.yaml")
    assert [f for f in findings if f.severity == "error"] == []


def without_website(project) -> None:
    """Settings without brand.website, which the text template does not list (yet)."""
    text = project.settings.read_text()
    project.settings.write_text(re.sub(r"(?m)^website = .*\n", "", text))


def test_a_clean_issue_passes_deliverability(project):
    without_website(project)
    assert run(deliverability, issue(project)) == []


def test_a_link_only_the_html_has_is_missing_from_the_text_part(project):
    text_template = project.root / "templates" / "newsletter.txt.j2"
    template = text_template.read_text(encoding="utf-8")
    website = "{% if brand.website %}\n{{ brand.website }}\n{% endif %}\n"
    assert website in template
    text_template.write_text(template.replace(website, ""), encoding="utf-8")
    findings = run(deliverability, issue(project))  # brand.website: the logo and the footer
    finding = only(findings, "https://turkiye.iom.int/ is a link in the HTML but missing")
    assert finding.severity == "warning"
    assert finding.location == replace(finding.location, path=project.settings.resolve())


def test_a_url_that_only_starts_another_url_in_the_text_does_not_count():
    text = "Read more: https://turkiye.iom.int/news/x\nSee [it] (https://a.org/b_(c))\n"
    assert deliverability.text_urls(text) >= {"https://turkiye.iom.int/news/x", "https://a.org/b_(c)"}
    assert "https://turkiye.iom.int/" not in deliverability.text_urls(text)


def test_a_long_subject_is_a_warning(project):
    long = "Clean water for 8,600 people in the district, and much more news from the field"
    path = issue(project, **{"subject: Clean water for 8,600 people": f"subject: {long}"})
    finding = only(run(deliverability, path), "the subject has")
    assert (finding.severity, finding.location.line) == ("warning", 2)


def test_a_missing_preheader_is_a_warning(project):
    path = issue(project, **{"preheader: How a small grant changed a district.\n": ""})
    assert only(run(deliverability, path), "no preheader").severity == "warning"


def test_headers_without_one_click_unsubscribe_are_errors(project, monkeypatch):
    ready = prepared(issue(project))
    real = deliverability.sample_message(ready)
    stripped = re.sub(rb"List-Unsubscribe(-Post)?:[^\r]*\r\n(\s[^\r]*\r\n)*", b"", real.data)
    monkeypatch.setattr(
        deliverability, "sample_message", lambda _: replace(real, data=stripped)
    )
    findings = run(deliverability, ready)
    assert only(findings, "List-Unsubscribe header").severity == "error"
    assert only(findings, "List-Unsubscribe-Post").severity == "error"


def test_a_missing_visible_unsubscribe_link_is_an_error(project):
    ready = prepared(issue(project))
    html = ready.rendered.html.replace(f'href="{token(UNSUBSCRIBE_KEY)}"', 'href="#"')
    text = ready.rendered.text.replace(token(UNSUBSCRIBE_KEY), "")
    findings = run(deliverability, with_rendered(ready, html=html, text=text))
    assert only(findings, "no visible unsubscribe link").severity == "error"
    assert only(findings, "plain-text part has no unsubscribe").severity == "error"


def test_a_missing_postal_address_is_an_error(project):
    ready = prepared(issue(project))
    address = ready.loaded.footer.postal_address
    html = ready.rendered.html.replace(address, "")
    finding = only(run(deliverability, with_rendered(ready, html=html)), "postal address is")
    assert finding.severity == "error"
    assert finding.location.path == project.settings


def test_an_address_without_numbers_is_a_warning(project):
    path = issue(project, **{
        "id: content-test": "id: content-test\nfooter:\n  postal_address: Ankara, Türkiye"
    })
    finding = only(run(deliverability, path), "does not look like a postal address")
    assert (finding.severity, finding.location.line) == ("warning", 3)


def test_a_sender_domain_no_link_goes_to_is_a_warning(project):
    sender = "id: content-test\nsender:\n  name: Someone\n  address: news@example.com"
    path = issue(project, **{"id: content-test": sender})
    finding = only(run(deliverability, path), "the domain of the From address")
    assert finding.severity == "warning"
    assert "example.com" in finding.message


def with_addresses(project, sender: str, bounces: str) -> None:
    """mailer.toml with the From address ``sender`` and a ``[bounces] address``."""
    text = project.settings.read_text(encoding="utf-8")
    text = text.replace('address = "newsletter@iom.int"', f'address = "{sender}"')
    project.settings.write_text(text + f'\n[bounces]\naddress = "{bounces}"\n', "utf-8")


@pytest.mark.parametrize(
    ("sender", "bounces"),
    [
        ("newsletter@iom.int", "bounces@iom.int"),
        ("newsletter@iom.int", "bounces@news.iom.int"),
        ("newsletter@iom.org.tr", "bounces@news.iom.org.tr"),  # under the suffix org.tr
        ("news@mail.example.co.uk", "bounces@example.co.uk"),
    ],
)
def test_a_bounce_address_in_the_senders_organisation_passes(project, sender, bounces):
    with_addresses(project, sender, bounces)
    assert [f for f in run(deliverability, issue(project)) if "bounce" in f.message] == []


@pytest.mark.parametrize(
    ("sender", "bounces", "organisation"),
    [
        ("newsletter@iom.int", "bounces@mailer-host.example.net", "iom.int"),
        ("newsletter@iom.org.tr", "bounces@other.org.tr", "iom.org.tr"),
        ("news@example.co.uk", "bounces@other.co.uk", "example.co.uk"),
        # 公司.cn is a suffix of its own, written in punycode in an address
        ("news@example.xn--55qx5d.cn", "bounces@other.xn--55qx5d.cn", "example.公司.cn"),
    ],
)
def test_a_bounce_address_in_another_organisation_is_a_warning_at_its_setting(
    project, sender, bounces, organisation
):
    with_addresses(project, sender, bounces)
    finding = only(run(deliverability, issue(project)), f"bounce address {bounces}")
    assert finding.severity == "warning"
    assert f"not in {organisation}, the domain of the From address {sender}" in finding.message
    assert "DMARC" in finding.message
    assert finding.location.path == project.settings
    assert finding.location.line == line_of(project.settings, f'address = "{bounces}"')
    assert f"bounces@{sender.partition('@')[2]}" in finding.fix


def test_a_url_shortener_is_a_warning(project):
    path = issue(project, **{"https://turkiye.iom.int/news/library": "https://bit.ly/3xYz"})
    finding = only(run(deliverability, path), "URL shortener bit.ly")
    assert (finding.severity, finding.location.line) == ("warning", line_of(path, "bit.ly"))


def test_a_link_missing_from_the_text_part_is_a_warning(project):
    without_website(project)
    ready = prepared(issue(project))
    text = ready.rendered.text.replace("https://turkiye.iom.int/news/library", "")
    finding = only(run(deliverability, with_rendered(ready, text=text)), "missing from the plain")
    assert finding.severity == "warning"
    assert finding.location.line == line_of(ready.loaded.path, "news/library")


def test_an_empty_text_part_is_an_error(project):
    ready = prepared(issue(project))
    findings = run(deliverability, with_rendered(ready, text="\n"))
    assert only(findings, "plain-text part is empty").severity == "error"


def test_leftover_template_code_is_an_error(project):
    ready = prepared(issue(project))
    html = ready.rendered.html.replace("</h1>", "{{ subscriber.name }}</h1>")
    text = ready.rendered.text + "<mj-text>\n"
    findings = run(deliverability, with_rendered(ready, html=html, text=text, subject="{% x %}"))
    assert {f.message.split("'")[1][:3] for f in findings if "template code" in f.message} == {
        "{{ ", "<mj", "{% "
    }
    assert all(f.severity == "error" for f in findings if "template code" in f.message)


def test_a_logo_with_a_white_box_is_a_warning_at_its_setting(project):
    logo = Image.new("RGB", (320, 96), "#FFFFFF")
    logo.paste((0x00, 0x33, 0xA0), (40, 30, 280, 66))
    logo.save(project.root / "issues" / "assets" / "iom-logo.png")
    finding = only(run(images, issue(project)), "white background")
    assert finding.severity == "warning"
    assert finding.location.path == project.settings
    assert finding.location.line == line_of(project.settings, "logo =")
    assert "transparent" in finding.fix


def test_the_examples_logo_is_transparent_and_passes():
    ready = prepare(load(ROOT / "issues" / "2018-03-iom-turkey.yaml"), real_send=False)
    assert not [f for f in run(images, ready) if "white background" in f.message]


def test_a_missing_dark_logo_is_a_loading_error_at_its_line(project):
    text = project.settings.read_text(encoding="utf-8")
    project.settings.write_text(
        text.replace('logo_alt = ', 'logo_dark = "issues/assets/nope.png"\nlogo_alt = '),
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        load(issue(project))
    assert str(caught.value).startswith(
        f"{project.settings}:{line_of(project.settings, 'logo_dark')}: brand.logo_dark: "
        "logo file not found"
    )
