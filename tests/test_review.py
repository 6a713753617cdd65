"""Human review: decisions in the store (added, never overwritten; the teacher's text kept), the export honouring
them (a reject wins, an accept or edit overrides the validators, an edit is the label with its provenance, the
card counts each case), the page's API on a real uvicorn server, and the page itself driven by keyboard in
headless Chromium."""

import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from datasets import load_dataset
from test_web import browser, wait_for_text  # noqa: F401 - the module-scoped headless Chromium fixture

from miniastrolm.export import ExportConfig, export
from miniastrolm.http import free_port
from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.review import create_review_app
from miniastrolm.selection import best_per_paper, curate
from miniastrolm.store import Store
from miniastrolm.validate import Verdict
from miniastrolm.validate.registry import NAMES

from validation_set import GOOD_FRB, GOOD_SATELLITE, GOOD_SPOTS

SAMPLES = Path(__file__).parents[1] / "samples" / "illustrative_abstracts.jsonl"
SATELLITE_VARIANT = GOOD_SATELLITE.replace("torn apart", "pulled to pieces")
WATER = ("Astronomers looked at a planet a bit bigger than Earth and found water vapour in its air. " * 3).strip()
EDITED_WATER = "A planet a little larger than Earth has water vapour in its air, the team found."
MARKUP = "The <b>spectrograph</b> costs little & works on small telescopes."
# (paper, sample, text, similarity or None for a failed faithfulness check, or "unjudged")
GENERATIONS = [
    ("2611.90001", 0, GOOD_SATELLITE, 0.80),  # passes, best score; people reject it
    ("2611.90001", 1, SATELLITE_VARIANT, 0.70),  # passes; the paper's row once the first is rejected
    ("2611.90002", 0, GOOD_SPOTS, None),  # fails; people accept it
    ("2611.90003", 0, WATER, None),  # fails; people edit it
    ("2611.90004", 0, GOOD_FRB, 0.75),  # passes, never reviewed
    ("2611.90004", 1, GOOD_FRB.replace("47", "52"), None),  # fails, never reviewed
    ("2611.90005", 0, "Counting galaxy clusters weighs the Universe.", 0.60),  # passes; people accept it too
    ("2611.90006", 0, MARKUP, "unjudged"),  # no verdicts in the set
]


def verdicts(similarity: float | None) -> list[Verdict]:
    """Every validator's verdict: all pass with `similarity`, or faithfulness fails (an invented number)."""
    failed = similarity is None
    return [Verdict(name, not (failed and name == "faithfulness"),
                    {"similarity": similarity or 0.5, "copying": 0.1}.get(name),
                    ("invented_number: 52",) if failed and name == "faithfulness" else ()) for name in NAMES]


def labelled_store(db: Path) -> tuple[str, dict[tuple[str, int], int]]:
    """A store with GENERATIONS and their verdicts: (verdict set name, (paper, sample) -> generation id)."""
    ingest(IngestConfig(path=str(SAMPLES), db=str(db)), progress=False)
    with Store(db) as store:
        batch = store.open_batch(recipe_hash="r", recipe={"backend": "import", "model": "teacher-x",
                                                          "prompt_version": "explain@abc"},
                                 price_input=None, price_output=None)
        for paper, sample, text, _ in GENERATIONS:
            store.add_generation({"paper": paper, "batch": batch, "sample": sample, "attempt": 1, "status": "ok",
                                  "prompt_version": "explain@abc", "backend": "import", "model": "teacher-x",
                                  "params": "{}", "output": text})
        ids = {(row["arxiv_id"], row["sample"]): row["generation"] for row in store.batch_outputs(batch)}
        store.record_verdicts("set1", {"min_words": 100}, {
            ids[paper, sample]: verdicts(similarity)
            for paper, sample, _, similarity in GENERATIONS if similarity != "unjudged"})
    return "set1", ids


@pytest.fixture
def store_path(tmp_path) -> tuple[Path, dict[tuple[str, int], int]]:
    db = tmp_path / "s.db"
    return db, labelled_store(db)[1]


def decide(db: Path, ids: dict) -> None:
    """The decisions the export tests start from: a reject, two accepts and an edit."""
    with Store(db) as store:
        store.record_review(ids["2611.90001", 0], "reject", "ann", reason="changes the finding")
        store.record_review(ids["2611.90002", 0], "accept", "ann")
        store.record_review(ids["2611.90003", 0], "edit", "bob", edited=EDITED_WATER)
        store.record_review(ids["2611.90005", 0], "accept", "bob")


def test_decisions_are_added_never_overwritten_and_the_teacher_text_is_kept(store_path):
    db, ids = store_path
    generation = ids["2611.90003", 0]
    with Store(db) as store:
        store.record_review(generation, "reject", "ann", reason="repeats itself")
        store.record_review(generation, "edit", "bob", edited=EDITED_WATER)
        history = store.review_history(generation)
        assert [(r.decision, r.reviewer, r.reason, r.edited) for r in history] == [
            ("reject", "ann", "repeats itself", None), ("edit", "bob", None, EDITED_WATER)]
        assert all(r.decided_at.endswith("+00:00") for r in history)  # UTC time of each decision
        assert store.generation_text(generation) == WATER  # the teacher's text is never changed
        _, items = store.review_items("set1", decision="edit")
        assert [(item.generation, item.review) for item in items] == [(generation, history[-1])]  # latest in force


@pytest.mark.parametrize("decision, reviewer, reason, edited", [
    ("reject", "ann", None, None), ("reject", "ann", "  ", None), ("edit", "ann", None, ""),
    ("accept", " ", None, None), ("approve", "ann", None, None)])
def test_the_store_refuses_a_reject_without_reason_an_empty_edit_and_a_nameless_reviewer(
        store_path, decision, reviewer, reason, edited):
    db, ids = store_path
    with Store(db) as store, pytest.raises(sqlite3.IntegrityError):
        store.record_review(ids["2611.90001", 0], decision, reviewer, reason=reason, edited=edited)


def test_the_review_list_filters_by_verdict_category_and_decision_and_pages(store_path):
    db, ids = store_path
    decide(db, ids)

    def listed(**filters) -> list[tuple[str, int]]:
        with Store(db) as store:
            total, items = store.review_items("set1", **filters)
        assert total == len(items) or "limit" in filters
        return [(item.arxiv_id, item.sample) for item in items]

    assert len(listed()) == len(GENERATIONS)
    assert listed(verdict="passed") == [("2611.90001", 0), ("2611.90001", 1), ("2611.90004", 0), ("2611.90005", 0)]
    assert listed(verdict="failed") == listed(verdict="faithfulness") == [
        ("2611.90002", 0), ("2611.90003", 0), ("2611.90004", 1)]
    assert listed(verdict="similarity") == [] and listed(verdict="unjudged") == [("2611.90006", 0)]
    assert listed(category="astro-ph.GA") == [("2611.90001", 0), ("2611.90001", 1)]
    assert listed(decision="unreviewed") == [("2611.90001", 1), ("2611.90004", 0), ("2611.90004", 1),
                                             ("2611.90006", 0)]
    assert listed(decision="accept", verdict="failed") == [("2611.90002", 0)]
    with Store(db) as store:
        total, page = store.review_items("set1", limit=3, offset=3)
        assert total == len(GENERATIONS) and [item.arxiv_id for item in page] == ["2611.90003", "2611.90004",
                                                                                 "2611.90004"]
        assert dict(store.review_categories())["astro-ph.HE"] == 2


def test_export_selection_applies_people_decisions(store_path):
    db, ids = store_path
    decide(db, ids)
    with Store(db) as store:
        curation = curate(store, "set1")
        filter_only = best_per_paper(store, "set1")
    chosen = {s.arxiv_id: s for s in curation.chosen}
    assert sorted(chosen) == ["2611.90001", "2611.90002", "2611.90003", "2611.90004", "2611.90005"]
    assert chosen["2611.90001"].generation == ids["2611.90001", 1]  # the reject wins over the better score
    assert chosen["2611.90002"].review.decision == "accept"  # accepted although faithfulness failed
    assert chosen["2611.90003"].explanation == EDITED_WATER and chosen["2611.90003"].review.reviewer == "bob"
    assert chosen["2611.90004"].generation == ids["2611.90004", 0] and chosen["2611.90004"].review is None
    assert "2611.90006" not in chosen  # not judged and not reviewed
    # the filter alone (its report's count) still sees what it passed, the rejected one included
    assert [s.generation for s in filter_only] == [ids["2611.90001", 0], ids["2611.90004", 0], ids["2611.90005", 0]]
    assert curation.explanations == {("reject", "passed"): 1, ("accept", "failed"): 1, ("edit", "failed"): 1,
                                     ("accept", "passed"): 1, (None, "passed"): 2, (None, "failed"): 1,
                                     (None, "not judged"): 1}
    assert curation.exported == {("accept", "failed"): 1, ("edit", "failed"): 1, ("accept", "passed"): 1,
                                 (None, "passed"): 2}
    assert curation.reviewers == ["ann", "bob"]


def test_a_persons_approval_outranks_the_score_and_the_latest_decision_is_in_force(store_path):
    db, ids = store_path
    with Store(db) as store:
        store.record_review(ids["2611.90001", 1], "accept", "ann")  # the lower-scoring sample
        assert {s.arxiv_id: s.generation for s in curate(store, "set1").chosen}["2611.90001"] == ids["2611.90001", 1]
        store.record_review(ids["2611.90001", 1], "reject", "bob", reason="unclear")
        assert {s.arxiv_id: s.generation for s in curate(store, "set1").chosen}["2611.90001"] == ids["2611.90001", 0]


def test_export_honours_decisions_with_provenance_and_the_card_counts_each_case(store_path, tmp_path):
    db, ids = store_path
    decide(db, ids)
    export(ExportConfig(db=str(db), output_dir=str(tmp_path / "ds"), jsonl=str(tmp_path / "c.jsonl"),
                        validation_share=0.0, test_share=0.0))
    rows = {row["arxiv_id"]: row for row in load_dataset(str(tmp_path / "ds"))["train"]}
    assert sorted(rows) == ["2611.90001", "2611.90002", "2611.90003", "2611.90004", "2611.90005"]
    assert rows["2611.90001"]["completion"][0]["content"] == SATELLITE_VARIANT
    edited = rows["2611.90003"]
    assert edited["completion"][0]["content"] == EDITED_WATER and edited["generation_id"] == ids["2611.90003", 0]
    assert edited["review"]["decision"] == "edit" and edited["review"]["reviewer"] == "bob"
    assert edited["review"]["decided_at"].endswith("+00:00")
    assert set(edited["scores"].values()) == {None} and edited["selection_score"] is None  # judged another text
    assert rows["2611.90002"]["review"]["decision"] == "accept" and rows["2611.90002"]["scores"]["similarity"] == 0.5
    assert rows["2611.90004"]["review"] is None and rows["2611.90004"]["scores"]["similarity"] == 0.75
    with Store(db) as store:
        assert store.generation_text(ids["2611.90003", 0]) == WATER  # the original stays in the store

    card = (tmp_path / "ds" / "README.md").read_text()
    review = card[card.index("## Human review"):card.index("## Sample records")]
    assert "Reviewed by ann, bob" in review
    assert "| accept | 2 | 1 | 1 | 0 | 2 |" in review
    assert "| edit | 1 | 0 | 1 | 0 | 1 |" in review
    assert "| reject | 1 | 1 | 0 | 0 | 0 |" in review
    assert "| not reviewed | 4 | 2 | 1 | 1 | 2 |" in review
    assert "- rejected although the filter passed them: 1" in review
    assert "- rows accepted or edited although a validator disagreed or none judged them: 2" in review
    assert "- rows whose explanation is a person's edit: 1" in review


def test_a_card_without_reviews_says_the_filter_alone_chose(store_path, tmp_path):
    db, _ = store_path
    export(ExportConfig(db=str(db), output_dir=str(tmp_path / "ds"), jsonl=str(tmp_path / "c.jsonl")))
    assert "Nobody reviewed these explanations" in (tmp_path / "ds" / "README.md").read_text()


@contextmanager
def serving_app(app):
    """An app under a real uvicorn server on 127.0.0.1; yields its URL once it answers."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def wait_until_up(url: str, process: subprocess.Popen | None = None) -> None:
    for _ in range(300):
        try:
            requests.get(url + "/health", timeout=1)
            return
        except requests.ConnectionError:
            assert process is None or process.poll() is None, process.stdout.read()
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def test_the_review_api_stores_good_decisions_and_refuses_bad_ones_with_a_reason(store_path):
    db, ids = store_path
    generation = ids["2611.90003", 0]
    with serving_app(create_review_app(str(db), reviewer="ann")) as url:
        def post(**body):
            return requests.post(url + "/reviews", json={"generation": generation, "reviewer": "ann", **body})

        for body, status, detail in [
            ({"decision": "reject"}, 422, "a reject needs a reason"),
            ({"decision": "edit", "text": WATER + "\n"}, 422, "teacher's text unchanged"),
            ({"decision": "edit", "text": "x" * 10_001}, 422, "the limit is 10,000"),
            ({"decision": "accept", "reviewer": ""}, 422, "give the reviewer's name"),
            ({"decision": "approve"}, 422, "decision must be one of accept, reject, edit"),
            ({"decision": "accept", "generation": 999}, 404, "no successful generation 999"),
        ]:
            answer = post(**body)
            assert (answer.status_code, detail in answer.json()["detail"]) == (status, True), answer.text
        assert requests.post(url + "/reviews", data=b"{not json").status_code == 400
        assert requests.get(url + "/?verdict=nonsense").status_code == 422

        stored = post(decision="edit", text=f"  {EDITED_WATER}\n").json()
        assert stored["edited"] == EDITED_WATER and stored["reviewer"] == "ann"
        assert stored["description"] == f"edited by ann at {stored['decided_at']}"
        page = requests.get(url + "/", params={"decision": "edit"}).text
        assert EDITED_WATER in page and page.count('class="item ') == 1
        markup = requests.get(url + "/", params={"verdict": "unjudged"}).text
        assert "The &lt;b&gt;spectrograph&lt;/b&gt; costs little &amp; works" in markup  # text, never markup
    with Store(db) as store:
        assert [r.decision for r in store.review_history(generation)] == ["edit"]  # the refused ones left no row


def test_review_verb_without_a_store_says_so(tmp_path):
    from typer.testing import CliRunner

    from miniastrolm.cli import app

    done = CliRunner().invoke(app, ["review", "--db", str(tmp_path / "none.db")])
    assert done.exit_code == 2 and "no store at" in done.output
    assert not (tmp_path / "none.db").exists()


@pytest.mark.slow
def test_a_reviewer_works_through_the_page_by_keyboard_and_the_export_follows(browser, store_path,  # noqa: F811
                                                                              tmp_path):
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    db, ids = store_path
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "miniastrolm.cli", "review", "--db", str(db), "--port",
                               str(port), "--reviewer", "ann", "--page-size", "4"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"

    def keys(*pressed: str) -> None:
        ActionChains(browser).send_keys(*pressed).perform()

    def article(arxiv_id: str, sample: int):
        return browser.find_element(By.ID, f"g{ids[arxiv_id, sample]}")

    def follow(element) -> None:
        """Click a link or submit button and wait until the next page has replaced this one and finished loading."""
        page = browser.find_element(By.TAG_NAME, "html")
        element.click()

        def replaced(_) -> bool:  # Chrome may also answer "Node ... does not belong to the document" mid-navigation
            try:
                page.is_enabled()
                return False
            except WebDriverException:  # StaleElementReferenceException is one
                return True

        WebDriverWait(browser, 30).until(replaced)
        WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")

    def current() -> str:
        return browser.find_element(By.CSS_SELECTOR, "article.current").get_attribute("id")

    try:
        wait_until_up(url, server)
        browser.get(url + "/")
        assert "8 explanations match; page 1 of 2" in browser.find_element(By.ID, "summary").text
        assert "PASS similarity 0.80" in article("2611.90001", 0).text  # verdicts and scores are shown
        assert "FAIL faithfulness: invented_number: 52" in article("2611.90002", 0).text
        assert current() == f"g{ids['2611.90001', 0]}"
        keys("j", "j", "k")
        assert current() == f"g{ids['2611.90001', 1]}"

        keys("k", "r")  # reject the first: its reason field opens and takes the keys
        reason = article("2611.90001", 0).find_element(By.CSS_SELECTOR, ".reason")
        assert reason.is_displayed() and browser.switch_to.active_element == reason
        keys("changes the finding", Keys.ENTER)
        assert "rejected by ann at" in wait_for_text(browser, f"#g{ids['2611.90001', 0]} .decision", "rejected")
        assert "changes the finding" in article("2611.90001", 0).find_element(By.CSS_SELECTOR, ".decision").text
        assert current() == f"g{ids['2611.90001', 1]}"  # on to the next

        keys("j", "a")  # accept the spots explanation although faithfulness failed
        wait_for_text(browser, f"#g{ids['2611.90002', 0]} .decision", "accepted by ann")
        assert "accept" in article("2611.90002", 0).get_attribute("class")

        keys("e")  # edit the water explanation
        text = article("2611.90003", 0).find_element(By.CSS_SELECTOR, ".text")
        assert browser.switch_to.active_element == text and text.get_attribute("value") == WATER
        text.clear()
        text.send_keys(EDITED_WATER)
        ActionChains(browser).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()
        wait_for_text(browser, f"#g{ids['2611.90003', 0]} .decision", "edited by ann")
        assert article("2611.90003", 0).find_element(By.CSS_SELECTOR, ".explanation").text == EDITED_WATER
        assert not article("2611.90003", 0).find_element(By.CSS_SELECTOR, ".reject-form").is_displayed()

        browser.find_element(By.ID, "reviewer").clear()  # no name, no decision
        keys(Keys.ESCAPE, "a")  # Esc leaves the name field, so the key is a shortcut again
        assert "give the reviewer's name" in wait_for_text(browser, "#error", "name")
        keys(Keys.ESCAPE)

        follow(browser.find_element(By.ID, "next-page"))  # the filters and pages are plain links and forms
        assert "page 2 of 2" in browser.find_element(By.ID, "summary").text
        browser.find_element(By.CSS_SELECTOR, "#decision option[value='unreviewed']").click()
        browser.find_element(By.CSS_SELECTOR, "#verdict option[value='passed']").click()
        follow(browser.find_element(By.ID, "show"))
        assert "page 1 of 1" in browser.find_element(By.ID, "summary").text
        shown = [element.get_attribute("id") for element in browser.find_elements(By.CSS_SELECTOR, "article")]
        assert shown == [f"g{ids[key]}" for key in [("2611.90001", 1), ("2611.90004", 0), ("2611.90005", 0)]]
        browser.find_element(By.CSS_SELECTOR, "#category option[value='astro-ph.SR']").click()
        follow(browser.find_element(By.ID, "show"))
        assert "No explanation matches" in browser.find_element(By.TAG_NAME, "main").text
    finally:
        server.terminate()
        server.wait(timeout=30)

    with Store(db) as store:
        stored = [(r.decision, r.reviewer, r.reason, r.edited) for g in ids.values() for r in store.review_history(g)]
    assert stored == [("reject", "ann", "changes the finding", None), ("accept", "ann", None, None),
                      ("edit", "ann", None, EDITED_WATER)]
    export(ExportConfig(db=str(db), output_dir=str(tmp_path / "ds"), jsonl=str(tmp_path / "c.jsonl"),
                        validation_share=0.0, test_share=0.0))
    rows = {row["arxiv_id"]: row for row in load_dataset(str(tmp_path / "ds"))["train"]}
    assert rows["2611.90001"]["generation_id"] == ids["2611.90001", 1]
    assert rows["2611.90002"]["review"]["decision"] == "accept"
    assert rows["2611.90003"]["completion"][0]["content"] == EDITED_WATER
