"""Teacher procedures (procedure.py): the sentence-grounded simplification's deterministic parts, and how it
joins the teacher's rewrites into one explanation."""

from miniastrolm.procedure import Sentences, define_terms, glossary, key_sentences, third_person, ungrounded
from miniastrolm.prompts import Prompt
from miniastrolm.store import Paper
from miniastrolm.teacher import Result

from validation_set import FRB

PAPER = Paper(FRB["id"], 1, FRB["title"], FRB["abstract"], "astro-ph.HE", "astro-ph.HE", "", None, None, "test")


def test_key_sentences_keep_the_opening_the_findings_and_the_end_in_order():
    chosen = key_sentences(FRB["abstract"], most=4)  # 5 sentences; only the fourth states a finding ("points to")
    assert [sentence.split()[:2] for sentence in chosen] == [["We", "localise"], ["Over", "six"], ["The", "high"],
                                                              ["These", "properties"]]
    assert key_sentences("One sentence only.", most=5) == ["One sentence only."]


def test_third_person_and_glossary_insertion():
    assert third_person("We find that our data show us a blazar.") == "They find that their data show them a blazar."
    terms = {"white dwarf": "the dense leftover core of a Sun-like star", "dwarf": "a small star",
             "blazar": "a galaxy whose black hole points a jet at us"}
    text, defined = define_terms("A white dwarf and a blazar.", terms)
    assert text == ("A white dwarf, the dense leftover core of a Sun-like star, and a blazar, a galaxy whose black "
                    "hole points a jet at us.")
    assert defined == ["white dwarf", "blazar"]  # "dwarf" is inside a defined term: not defined again
    assert define_terms("Blazar surveys are big.", terms) == ("Blazar surveys are big.", [])  # mid noun phrase
    assert len(glossary()) >= 300 and all(term == term.lower() for term in glossary())


def test_ungrounded_rewrites_are_named():
    source = "Over six months we recorded 47 bursts, each lasting a few milliseconds."
    assert ungrounded(source, "In six months they caught 47 bursts, each a few milliseconds long.", 0.5) == []
    assert ungrounded(source, "They caught 52 bursts.", 0.5) == ["invented_number: 52"]
    assert ungrounded(source, "The team at the observatory was very excited about the discovery.", 0.5)[0] \
        .startswith("drifts:")


def test_finish_keeps_grounded_sentences_and_records_every_step():
    procedure = Sentences(Prompt.load("simplify"), most_sentences=3, terms={"magnetar": "a very magnetic dead star"})
    jobs = procedure.jobs(PAPER, sample=0, attempt=1, seed=7)
    assert [job.part for job in jobs] == [0, 1, 2] and all(job.seed == 7 for job in jobs)
    assert jobs[1].messages[-1]["content"].endswith(key_sentences(FRB["abstract"], 3)[1])
    outputs = ["They traced repeating radio flashes to a small star-forming galaxy. Dr. Smith was thrilled.",
               None, "These clues favour a young magnetar as the engine of the bursts."]
    parts = [Result(job, output=text, finish_reason="stop" if text else "length",
                    prompt_tokens=100, completion_tokens=20, latency_ms=5.0,
                    error=None if text else "cut off: reached max_new_tokens before finishing")
             for job, text in zip(jobs, outputs, strict=True)]
    result = procedure.finish(PAPER, list(reversed(parts)))
    assert result.ok and result.output == (
        "They traced repeating radio flashes to a small star-forming galaxy. These clues favour a young magnetar, "
        "a very magnetic dead star, as the engine of the bursts.")
    assert (result.prompt_tokens, result.completion_tokens) == (300, 60)
    rewrites = [step for step in result.steps if step["step"] == "rewrite"]
    assert "Dr. Smith was thrilled." in rewrites[0]["dropped"] and rewrites[1]["error"].startswith("cut off")
    assert result.steps[-1] == {"step": "glossary", "defined": ["magnetar"]}
    nothing = procedure.finish(PAPER, [Result(job, error="empty output") for job in jobs])
    assert not nothing.ok and "grounded" in nothing.error
