"""End to end in a real browser: headless Chromium (Debian's) driven by Playwright.

Upload a file, ask about it, and check that the answer, the trace and the right passage
appear; no request leaves 127.0.0.1. Hold a two-turn conversation on a small manual (the how-to
follow-up gets a written, cited answer holding the command) and open a cited source.
The follow-up test saves a screenshot in its temp dir (and in $SEARCHR3_SCREENSHOT when set,
as the README's picture is made)."""

import os
import shutil

import pytest

from tests.app.test_app_page import server, shipped_server  # noqa: F401  (the running apps: tiny; as a user starts it)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason="Debian's chromium is not installed (scripts/setup.sh installs it as root)",
    ),
]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def written_part(message) -> str:
    """The text of a chat message less its quotes (the manual's sentences): what the answer model wrote."""
    return message.evaluate("el => { const c = el.cloneNode(true);"
                            " c.querySelectorAll('blockquote').forEach(b => b.remove()); return c.innerText; }")


def upload_into(page, collection: str, files) -> None:
    """On the page: name a new collection (the upload creates it), choose ``files`` and start indexing."""
    page.locator("#collection input").fill(collection)
    page.locator("#collection input").press("Enter")
    page.locator("#upload input[type=file]").set_input_files(files)
    page.locator("#index").click()


def test_upload_ask_and_see_answer_trace_and_passage(shipped_server, tmp_path):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    doc = tmp_path / "lighthouse.txt"
    doc.write_text("The Fastnet lighthouse off the coast of Ireland was first lit in 1854.\n\n"
                   "Its keepers rowed out every Monday with fresh water and supplies.")
    outside = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.on(
            "request",
            lambda r: (
                None
                if r.url.startswith(shipped_server) or r.url.startswith("data:") or r.url.startswith("blob:")
                else outside.append(r.url)
            ),
        )
        page.goto(shipped_server)
        expect(page.locator("#stats")).to_contain_text("0 chunks", timeout=60_000)

        page.locator("#upload input[type=file]").set_input_files(str(doc))
        page.locator("#index").click()
        expect(page.locator("#upload-status")).to_contain_text("Indexed 1 file ", timeout=180_000)
        expect(page.locator("#stats")).to_contain_text("1 file,", timeout=30_000)

        page.locator("#reasoning input[type=checkbox]").check()  # off by default; the trace shows when on
        page.locator("#question textarea").fill("When was the Fastnet lighthouse first lit?")
        page.locator("#ask").click()
        expect(page.locator("#passages")).to_contain_text("lighthouse.txt", timeout=180_000)
        expect(page.locator("#passages")).to_contain_text("1854")
        expect(page.locator("#chat")).to_contain_text("lighthouse.txt", timeout=180_000)  # the answer's citations
        step = page.locator("#chat").get_by_text("Reasoning before the search").first
        expect(step).to_be_visible()  # the trace is the answer's thinking step, collapsed when done
        step.click()
        expect(page.locator("#chat")).to_contain_text("Searched: When was the Fastnet lighthouse first lit?")
        answer = written_part(page.locator("#chat .message").last)
        assert "1854" in answer and "[1]" in answer  # written by the answer model from the passage, cited
        browser.close()
    assert not outside, outside[:5]


GIT_DOCS = {
    "git-branch-create.txt": "Branches are cheap in git: a branch is a pointer to a commit. Creating a branch:"
                             " git branch NAME makes a new branch at the current commit. git switch NAME moves"
                             " to it, and git switch -c NAME does both.",
    "git-branch-delete.txt": "When a feature is merged its branch is no longer needed. Deleting a branch: git"
                             " branch -d NAME removes a merged branch; -D forces it. The commits stay reachable"
                             " from the branch they were merged into.",
    "rm.txt": "Deleting files: the rm command removes files from disk; rm -r removes a directory. There is no"
              " undo, so rm -i asks first.",
    "pydel.txt": "The del statement deletes a name binding or an item from a list or dictionary. Objects are"
                 " freed once nothing refers to them.",
}


def test_a_follow_up_finds_its_passage_and_its_source_opens(shipped_server, tmp_path):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    for name, text in GIT_DOCS.items():
        (tmp_path / name).write_text(text)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        page.goto(shipped_server)
        upload_into(page, "git", [str(tmp_path / n) for n in GIT_DOCS])
        expect(page.locator("#upload-status")).to_contain_text("Indexed 4 files", timeout=180_000)

        page.locator("#question textarea").fill("How do I create a branch in git?")
        page.locator("#ask").click()
        expect(page.locator("#chat")).to_contain_text("Cited:", timeout=180_000)
        page.locator("#reasoning input[type=checkbox]").check()
        page.locator("#question textarea").fill("And how do I delete it?")  # only makes sense after the first
        page.locator("#ask").click()
        expect(page.locator("#chat .message").last).to_contain_text("Cited: [1] git-branch-delete.txt",
                                                                    timeout=180_000)
        assert "git branch -d" in written_part(page.locator("#chat .message").last)  # written: the command
        page.locator("#chat").get_by_text("Reasoning before the search").last.click()  # open the thinking step
        expect(page.locator("#chat").get_by_text("And how do I delete it? (create branch git)")).to_be_visible()
        first = page.locator("#passages p").first
        expect(first).to_contain_text("git-branch-delete.txt")
        expect(page.locator("#passages mark").first).to_contain_text("Deleting a branch")
        shot = tmp_path / "page.png"
        page.wait_for_timeout(300)
        page.screenshot(path=str(shot))  # not full_page: resizing re-renders the chat and closes the step

        with page.expect_popup() as opened:  # the source link opens the file itself, in a new tab
            first.locator("a").first.click()
        source = opened.value
        source.wait_for_load_state()
        assert source.url.startswith(shipped_server + "/sources/git/")
        assert "Deleting a branch: git branch -d NAME" in source.locator("body").inner_text()
        browser.close()
    assert shot.stat().st_size > 10_000
    if os.environ.get("SEARCHR3_SCREENSHOT"):
        shutil.copy(shot, os.environ["SEARCHR3_SCREENSHOT"])


def test_documents_list_and_remove(shipped_server, tmp_path):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    doc = tmp_path / "kiln.txt"
    doc.write_text("A kiln fires clay into ceramic at about a thousand degrees.")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(shipped_server)
        page.locator("#upload input[type=file]").set_input_files(str(doc))
        page.locator("#index").click()
        expect(page.locator("#upload-status")).to_contain_text("Indexed 1 file ", timeout=180_000)
        page.locator("#documents").get_by_text("Documents").first.click()
        table = page.locator("#documents-table")
        expect(table).to_contain_text("kiln.txt", timeout=30_000)

        page.locator("#remove-choice input").click()
        page.get_by_role("option", name="kiln.txt", exact=False).first.click()
        page.locator("#remove").click()  # asks first, and says what a later ingest does
        expect(page.locator("#remove-question")).to_contain_text("a later `ingest` of its folder brings it back"
                                                                 .replace("`", ""), timeout=30_000)
        expect(table).to_contain_text("kiln.txt")  # nothing removed yet
        page.locator("#remove-yes").click()
        expect(page.locator("#remove-status")).to_contain_text("Removed kiln.txt", timeout=60_000)
        expect(table).not_to_contain_text("kiln.txt", timeout=30_000)

        page.locator("#question textarea").fill("How is clay fired into ceramic?")
        page.locator("#ask").click()
        expect(page.locator("#passages")).not_to_contain_text("_No passages yet._", timeout=180_000)
        expect(page.locator("#chat .message").last).not_to_contain_text("…", timeout=180_000)
        assert "kiln.txt" not in page.locator("#passages").inner_text()
        browser.close()


def test_a_manual_page_shows_its_code_and_table_as_written(shipped_server, tmp_path):  # noqa: F811
    """A manual's HTML page: the passages show the '#'-prompt code block in monospace with its lines and
    the table as a table; the code passage's link opens the page at its section."""
    from playwright.sync_api import expect, sync_playwright

    from tests.docs import STRUCTURED

    page_file = tmp_path / "rescue-manual.html"
    page_file.write_text(STRUCTURED)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        page.goto(shipped_server)
        upload_into(page, "manual", str(page_file))
        expect(page.locator("#upload-status")).to_contain_text("Indexed 1 file ", timeout=180_000)
        page.locator("#question textarea").fill("How do I mount the old system as root, and which grub packages?")
        page.locator("#ask").click()
        code = page.locator("#passages pre.passage-code").first
        expect(code).to_contain_text("# mkdir -p /path/to/old/system", timeout=180_000)
        assert code.inner_text().splitlines()[:3] == [
            "# mkdir -p /path/to/old/system", "# mount /dev/sda1 /path/to/old/system", "    cd /path/to/old/system"]
        assert code.evaluate("e => getComputedStyle(e).fontFamily").lower().find("mono") >= 0
        table = page.locator("#passages table").first
        expect(table.locator("th").first).to_have_text("package")
        expect(table).to_contain_text("grub-rescue-pc")
        assert page.locator("#passages h1, #passages h2, #passages h3").count() == 0  # '#' lines are not headings
        href = page.locator("#passages a[href*='/sources/manual/']").evaluate_all("els => els.map(e => e.href)")
        assert any(h.endswith("#restoring") for h in href) and any(h.endswith("#packages") for h in href)
        page.wait_for_timeout(300)
        page.screenshot(path=str(tmp_path / "manual.png"))
        browser.close()
    assert (tmp_path / "manual.png").stat().st_size > 10_000
    if os.environ.get("SEARCHR3_SCREENSHOT_MANUAL"):
        shutil.copy(tmp_path / "manual.png", os.environ["SEARCHR3_SCREENSHOT_MANUAL"])


def test_an_upload_shows_its_progress_while_it_runs(server, tmp_path):  # noqa: F811
    """The upload's progress (file, chunks stored of how many) is readable in the page while indexing runs."""
    import random

    from playwright.sync_api import expect, sync_playwright

    words = "kiln clay glaze fire loom warp weft thread needle yarn wool dye vat spindle wheel".split()
    rng = random.Random(0)
    big = tmp_path / "crafts.txt"
    big.write_text("\n\n".join(" ".join(rng.choice(words) for _ in range(120)) + "." for _ in range(400)))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(server)
        upload_into(page, "progress", str(big))
        status = page.locator("#upload-status")
        expect(status).to_contain_text(" chunks (0 of 1 files)", timeout=60_000)  # moving, before it is done
        text = status.inner_text()
        assert "crafts.txt: " in text and " of 400 chunks" in text and status.bounding_box()["height"] >= 40
        expect(status).to_contain_text("Indexed 1 file (400 chunks added)", timeout=180_000)
        browser.close()
