"""A user in a real browser (Debian's Chromium driven by Playwright) checks a generated clip against a
registry: creates a project and a scene, uploads a clip, watches its analysis live, reads the scene
report, then sees the clip on the character's page and removes the view the clip added. A file that
is no clip is refused by name. Screenshots land in out/screenshots/ (10- to 13-)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.clipmaking import make_clip
from tests.web.conftest import SHOTS

from vidpipe.app import AppContext
from vidpipe.domain.enums import AssetType
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, projects, runs

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.models, pytest.mark.data, pytest.mark.slow]

# Records every text the scene's clip rows show in their status badge and frame count, as they change.
WATCH_ROWS = """scene => {
  window.seen = { statuses: [], counts: [] };
  const note = () => scene.querySelectorAll("tr.clip").forEach((row) => {
    const status = row.querySelector(".status").textContent;
    const live = row.querySelector(".live");
    if (window.seen.statuses.at(-1) !== status) window.seen.statuses.push(status);
    if (!live.hidden) window.seen.counts.push(live.querySelector(".count").textContent);
  });
  new MutationObserver(note).observe(scene, { subtree: true, childList: true, characterData: true, attributes: true });
}"""


def _registry(ctx: AppContext, data_dir: Path) -> str:
    """A READY registry of two characters, made through the services as the CLI would."""
    faces = data_dir / "faces/face_recognition"
    manifest = manifests.create_manifest(
        ctx,
        "Press",
        [
            PhotoIn(faces / "obama.jpg", AssetType.CHARACTER, "The President"),
            PhotoIn(faces / "biden.jpg", AssetType.CHARACTER, "The Mentor"),
        ],
    ).manifest
    job = runs.process_manifest(ctx, str(manifest.id))
    assert job.status.value == "SUCCEEDED", job.error
    return str(manifest.id)


def test_a_user_checks_a_generated_clip_against_the_registry(
    server: str, data_dir: Path, tmp_path: Path, app_ctx: AppContext, browser: Browser
) -> None:
    from playwright.sync_api import expect

    manifest_id = _registry(app_ctx, data_dir)
    faces = data_dir / "faces/face_recognition"
    obama = [faces / n for n in ("obama2.jpg", "knn_examples__test__obama1.jpg", "tests__test_images__obama3.jpg")]
    steady = make_clip(tmp_path / "steady.mp4", [(p, 2.0) for p in obama])
    notes = tmp_path / "notes.mp4"
    notes.write_text("a text file named like a clip")

    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.set_default_timeout(60_000)

    # 1. The projects page, from the nav: create a project on the READY registry.
    page.goto(f"{server}/")
    page.get_by_role("navigation").get_by_role("link", name="Projects").click()
    page.wait_for_url("**/projects")
    page.get_by_label("Project name").fill("Pilot")
    page.get_by_label("Registry").select_option(manifest_id)
    page.screenshot(path=str(SHOTS / "10-projects.png"), full_page=True)
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url("**/projects/*")
    expect(page.locator("h1")).to_have_text("Pilot")

    # 2. Scene 1, expecting the President (CHAR_01), chosen from the registry's tags.
    expect(page.get_by_label("Scene number")).to_have_value("1")
    page.get_by_label("Description").fill("The President at the podium")
    page.locator('input[name="expect"][value="CHAR_01"]').check()
    page.get_by_role("button", name="Add scene").click()
    scene = page.locator('.scene[data-index="1"]')
    expect(scene.locator("h2")).to_have_text("Scene 1 · The President at the podium")
    expect(scene.locator(".expects")).to_contain_text("CHAR_01 The President")
    expect(scene.locator(".expects")).not_to_contain_text("CHAR_02")

    # A text file named like a clip is refused, by name, and adds no clip.
    scene.get_by_label("Clip for scene 1").set_input_files(str(notes))
    scene.get_by_role("button", name="Upload and analyse").click()
    expect(scene.locator(".upload-note")).to_contain_text("notes.mp4: cannot use 'notes.mp4' as a video clip")
    expect(scene.locator("tr.clip")).to_have_count(0)

    # 3. Upload the clip: it is analysed at once, live, to ANALYZED with a verdict.
    scene.evaluate(WATCH_ROWS)
    scene.get_by_label("Clip for scene 1").set_input_files(str(steady))
    scene.get_by_role("button", name="Upload and analyse").click()
    row = scene.locator("tr.clip")
    expect(row).to_have_count(1)
    expect(row.locator(".status")).to_have_text("ANALYZED", timeout=120_000)
    expect(row.locator(".verdict")).to_have_text("PASS")
    expect(row.locator(".score")).to_have_text(re.compile(r"^\d+\.\d/10$"))
    expect(row.locator(".live")).to_be_hidden()
    seen = page.evaluate("window.seen")
    assert seen["statuses"][-2:] == ["ANALYZING", "ANALYZED"], seen
    assert any(c.endswith(" frames") and not c.startswith("0 / ?") for c in seen["counts"]), seen
    expect(scene.locator(".upload-note")).to_contain_text("steady.mp4: analysed")
    page.screenshot(path=str(SHOTS / "11-project.png"), full_page=True)

    # The same after a reload, from the server.
    page.reload()
    expect(scene.locator("tr.clip .verdict")).to_have_text("PASS")

    # 4. The scene report.
    scene.locator("tr.clip").get_by_role("link", name="Report").click()
    page.wait_for_url("**/clips/*")
    clip_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    analysis = projects.get_analysis(app_ctx, clip_id)
    frames = analysis.record["frames"]
    expect(page.locator(".verdict .gate")).to_have_text("PASS")
    expect(page.locator(".verdict .score-big")).to_have_text(f"{analysis.summary.continuity_score:.1f}/10")
    expect(page.locator(".verdict .reasons li")).to_have_count(len(analysis.summary.reasons))
    strip = page.locator(".frame-strip li.frame")
    expect(strip).to_have_count(len(frames))
    labels = page.locator(".frame-strip .fbox .label").all_inner_texts()
    assert sum(label.startswith("CHAR_01 0.") for label in labels) == len(frames), labels
    loaded = page.locator(".frame-strip img").evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
    assert len(loaded) == len(frames) and all(loaded), loaded
    timeline = page.locator('.timeline tr.asset-row[data-tag="CHAR_01"]')
    expect(timeline).to_contain_text("expected")
    expect(timeline.locator("td.cell.present")).to_have_count(len(frames))
    expect(page.locator(".chart polyline")).to_have_count(len(analysis.record["assets"]))
    expect(page.locator(".enriched li")).to_have_count(len(analysis.record["enriched"]))
    expect(page.locator("video")).to_have_attribute("src", f"/files/{projects.get_clip(app_ctx, clip_id).storage_key}")
    page.screenshot(path=str(SHOTS / "12-clip-report.png"), full_page=True)

    # 5. The President's page: where he appeared, and the views the clip added, marked as generated.
    timeline.get_by_role("link", name="CHAR_01").click()
    expect(page.locator("h1")).to_contain_text("CHAR_01")
    expect(page.locator("tr.appearance")).to_have_count(len(frames))
    expect(page.locator("tr.appearance").first).to_contain_text("steady.mp4")
    generated = page.locator(".ref").filter(has=page.locator(".badge.generated"))
    added = len(analysis.record["enriched"])
    assert added >= 1
    expect(generated).to_have_count(added)
    page.screenshot(path=str(SHOTS / "13-asset-appearances.png"), full_page=True)

    # Remove one generated view: gone after the reload, the photo's own view untouched.
    views = page.locator(".ref").count()
    page.once("dialog", lambda dialog: dialog.accept())
    generated.first.get_by_role("button", name="Remove").click()
    expect(page.locator(".ref")).to_have_count(views - 1)
    page.reload()
    expect(generated).to_have_count(added - 1)
    expect(page.locator(".ref").filter(has_not=page.locator(".badge"))).to_have_count(1)
