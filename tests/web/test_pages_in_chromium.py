"""A new user in a real browser (Debian's Chromium driven by Playwright): uploads real photos with
names and types, watches the run reach READY, renames, merges, splits and swaps, and sees every
change survive a reload and a re-run. Screenshots of each stage land in out/screenshots/."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.web.conftest import SHOTS

from vidpipe.app import AppContext

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.models, pytest.mark.data, pytest.mark.slow]


def test_a_new_user_builds_and_corrects_a_registry(server: str, data_dir: Path, browser: Browser) -> None:
    from playwright.sync_api import expect

    faces = data_dir / "faces/face_recognition"
    photos = [
        faces / "obama.jpg",
        faces / "obama2.jpg",
        faces / "biden.jpg",
        data_dir / "detection/skimage_data/coffee.png",
    ]
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.set_default_timeout(60_000)

    # 1. Upload: name the manifest, add four photos, name and type each.
    page.goto(f"{server}/manifests/new")
    page.get_by_label("Manifest name").fill("Pilot")
    page.locator("#file-input").set_input_files([str(p) for p in photos])
    cards = page.locator("#pending .card")
    expect(cards).to_have_count(4)
    for n, (name, kind) in enumerate(
        [
            ("The Senator", "CHARACTER"),
            ("Senator, side", "CHARACTER"),
            ("The Mentor", "CHARACTER"),
            ("Espresso", "PROP"),
        ]
    ):
        cards.nth(n).locator(".name").fill(name)
        cards.nth(n).locator(".type").select_option(kind)
    page.screenshot(path=str(SHOTS / "1-upload.png"), full_page=True)

    # 2. Processing: live bars until READY.
    page.get_by_role("button", name="Upload and process").click()
    page.wait_for_url("**/processing")
    expect(page.get_by_role("link", name="Review the registry")).to_be_visible()
    expect(page.locator("#step-words")).to_contain_text("ready")
    expect(page.locator("#photos-text")).to_have_text("4 / 4")
    # The faces and objects the run cut out were shown as it went, and their pictures load.
    expect(page.locator("#found li.found.face").first).to_be_visible()
    loaded = page.locator("#found img").evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
    assert loaded and all(loaded), loaded
    page.screenshot(path=str(SHOTS / "2-processing-done.png"), full_page=True)

    # 3. Review: the assets; rename one and see it after a reload.
    page.get_by_role("link", name="Review the registry").click()
    expect(page.locator(".asset")).to_have_count(page.locator(".asset").count())
    tags = page.locator(".asset").evaluate_all("cards => cards.map(c => c.dataset.tag)")
    assert {"CHAR_01", "CHAR_02", "PROP_01"} <= set(tags), tags
    page.screenshot(path=str(SHOTS / "3-review.png"), full_page=True)
    mentor = page.locator('.asset[data-tag="CHAR_02"]')
    mentor.locator("input.name").fill("Mentor (renamed)")
    mentor.locator("input.name").press("Tab")
    expect(page.locator("#toast")).to_contain_text("CHAR_02: saved")
    page.reload()
    expect(page.locator('.asset[data-tag="CHAR_02"] input.name')).to_have_value("Mentor (renamed)")

    # The same with the keyboard alone: Tab to the espresso's name, type, Tab away; it is saved.
    page.locator("body").click(position={"x": 5, "y": 5})
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('.asset[data-tag=\"PROP_01\"] input.name')"):
            break
    else:
        raise AssertionError("the espresso's name cannot be reached with Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("Hero espresso")
    page.keyboard.press("Tab")
    expect(page.locator("#toast")).to_contain_text("PROP_01: saved")
    page.reload()
    expect(page.locator('.asset[data-tag="PROP_01"] input.name')).to_have_value("Hero espresso")

    # Split the senator's side view into its own asset, named.
    page.locator('.asset[data-tag="CHAR_01"]').get_by_role("link", name="Views, split, swap").click()
    expect(page.locator(".ref")).to_have_count(2)
    page.locator(".ref").nth(1).locator(".pick").check()
    page.get_by_label("Name of the new asset").fill("Body double")
    page.get_by_role("button", name="Split selected views into a new asset").click()
    expect(page.locator("h1")).to_contain_text("Body double")
    page.screenshot(path=str(SHOTS / "4-split.png"), full_page=True)

    # Merge the double back into the senator, selecting both in the grid.
    page.get_by_role("link", name="Pilot").click()
    page.locator('.asset[data-tag="CHAR_01"] .pick').check()
    page.locator('.asset[data-tag="CHAR_03"] .pick').check()
    page.get_by_role("button", name="Merge selected").click()
    expect(page.locator('.asset[data-tag="CHAR_03"]')).to_have_count(0)

    # Swap the senator's primary view for his other one.
    page.locator('.asset[data-tag="CHAR_01"]').get_by_role("link", name="Views, split, swap").click()
    before = page.locator(".ref.primary img").first.get_attribute("src")
    assert before is not None
    page.locator(".ref:not(.primary) .choose").first.click()
    expect(page.locator(".ref.primary img").first).not_to_have_attribute("src", before)
    expect(page.locator(".ref.primary")).to_have_count(1)
    expect(page.locator(".ref")).to_have_count(2)  # the chosen view moved to the front, not copied
    page.screenshot(path=str(SHOTS / "5-asset-swapped.png"), full_page=True)

    # Search the registry by words.
    page.get_by_role("link", name="Pilot").click()
    page.get_by_label("Search the registry").fill("mentor renamed")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator(".asset")).to_have_count(1)
    expect(page.locator(".asset input.name")).to_have_value("Mentor (renamed)")
    page.screenshot(path=str(SHOTS / "6-search.png"), full_page=True)

    # A re-run keeps every correction.
    page.get_by_role("link", name="Show all").click()
    page.get_by_role("button", name="Process again").click()
    page.wait_for_url("**/processing")
    expect(page.get_by_role("link", name="Review the registry")).to_be_visible()
    page.screenshot(path=str(SHOTS / "7-rerun-done.png"), full_page=True)
    page.get_by_role("link", name="Review the registry").click()
    expect(page.locator('.asset[data-tag="CHAR_02"] input.name')).to_have_value("Mentor (renamed)")
    expect(page.locator('.asset[data-tag="CHAR_03"]')).to_have_count(0)
    page.screenshot(path=str(SHOTS / "8-after-rerun.png"), full_page=True)


def test_refused_photos_are_named_and_removing_one_keeps_the_rest(
    server: str, data_dir: Path, tmp_path: Path, app_ctx: AppContext, browser: Browser
) -> None:
    from playwright.sync_api import expect

    from vidpipe.services import manifests

    notes = tmp_path / "notes.jpg"
    notes.write_text("a text file named like a photo")
    samples = data_dir / "detection/skimage_data"
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    page.set_default_timeout(60_000)
    page.goto(f"{server}/manifests/new")
    page.get_by_label("Manifest name").fill("Mixed")
    page.locator("#file-input").set_input_files([str(samples / "coffee.png"), str(notes)])
    page.get_by_role("button", name="Upload and process").click()
    expect(page.locator("#messages")).to_contain_text("notes.jpg: cannot use 'notes.jpg' as an image")
    # Its type was left at "Guess from the photo": the page says what was guessed and why.
    expect(page.locator("#messages")).to_contain_text("coffee.png: uploaded as PROP (type PROP guessed")
    expect(page.locator("#pending .card")).to_have_count(1)  # only the refused one is left to deal with
    page.screenshot(path=str(SHOTS / "9-refused.png"), full_page=True)
    page.locator("#pending .card.refused .remove").click()
    page.locator("#file-input").set_input_files([str(samples / "rocket.jpg")])
    page.get_by_role("button", name="Upload and process").click()
    page.wait_for_url("**/processing")
    (mixed,) = [m for m in manifests.list_manifests(app_ctx) if m.name == "Mixed"]
    files = {u.original_filename for u in manifests.show_manifest(app_ctx, str(mixed.id)).uploads}
    assert files == {"coffee.png", "rocket.jpg"}
