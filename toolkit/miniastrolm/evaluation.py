"""Evaluate: the student against the teacher, the untuned base model and a lead-3 baseline, on held-out papers.

Per system: relevance (ROUGE-1/2/L against the teacher's explanation; MiniLM similarity to the abstract),
readability (Flesch-Kincaid grade, Dale-Chall, Coleman-Liau), factuality (the filter's number / name /
instrument checks as rates; the on-task rate), degeneration, length and truncation, and cost (tokens and wall time per
explanation, and the student's time relative to the teacher's on one basis: the student one abstract at a time,
the teacher each explanation's share of its batched labelling call). Similarity, readability, factuality and
degeneration are computed through the project's `evaluate` modules (`metrics/`), so anyone can reproduce a
figure with `evaluate.load("metrics/<name>")`; ROUGE is Google's rouge-score. Every rate and mean carries a 95 %
bootstrap interval and its n; under 30 papers the report says "too few to conclude" instead of a table. Blind
ratings by careful readers (`--ratings`) join as acceptable / faithful / degenerate rates with Wilson intervals.
Writes report.md, metrics.json, outputs.jsonl (every explanation; an interrupted run reuses them), examples.md
(side by side) and plots. Decoding is greedy by default and seeded otherwise, so a re-run gives the same numbers.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from tqdm.auto import tqdm

from .prompts import Prompt
from .stats import bootstrap, wilson
from .store import DEFAULT_DB, Paper, Store
from .student_format import abstract_of, explanation_of, messages
from .text import plain_text
from .validate.faithfulness import check_faithfulness, number_problems
from .validate.format import unfinished
from .validate.on_task import check_on_task
from .validate.readability import textstat_offline

SYSTEMS = ("student", "teacher", "base", "lead3")
MIN_PAPERS = 30  # below this a report shows no comparison table: the intervals are too wide to conclude anything
METRIC_MODULES = Path(__file__).resolve().parents[2] / "metrics"  # the `evaluate` modules of this checkout
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


@dataclass
class EvalConfig:
    dataset: str = field(default="dataset", metadata={"help": "exported dataset (folder or Hub id) with the papers"})
    split: str = field(default="test", metadata={"help": "split of held-out papers to evaluate on"})
    limit: int | None = field(default=None, metadata={"help": "first N papers of the split"})
    db: str = field(default=DEFAULT_DB, metadata={"help": "store with the teacher's calls (for its cost)"})
    systems: str = field(default="student,teacher,base,lead3", metadata={
        "help": "comma-separated: student, teacher (its stored explanations), base (the untuned model), lead3"})
    student: str = field(default="runs/student", metadata={"help": "student model folder or Hub id"})
    base: str = field(default="smollm2", metadata={
        "help": "the untuned base: a folder, a Hub id, or 'smollm2' (the embedded SmolLM2-135M-Instruct)"})
    base_prompt: str = field(default="explain", metadata={
        "help": "the base's input: a teacher prompt (prompts/<name>: the teacher's instructions, one plain call), "
                "or 'student' for the student's bare-abstract format"})
    ratings: str | None = field(default=None, metadata={
        "help": "blind ratings by careful readers (JSONL: arxiv_id, system, acceptable, faithful, degenerate) "
                "to report beside the automatic metrics"})
    max_new_tokens: int = field(default=200, metadata={"help": "per explanation, student and base"})
    do_sample: bool = field(default=False, metadata={"help": "greedy by default; sampling uses `seed`"})
    seed: int = field(default=0)
    output_dir: str = field(default="runs/eval", metadata={"help": "report.md, metrics.json and plots go here"})


@dataclass
class Output:
    text: str
    tokens: int | None = None
    seconds: float | None = None
    hit_limit: bool = False


def lead3(abstract: str) -> str:
    """The first three sentences of the abstract: the classic extractive baseline."""
    return " ".join(_SENTENCE.split(plain_text(abstract))[:3])


def rouge(reference: str, candidates: list[str]) -> list[dict[str, float]]:
    """ROUGE-1/2/L F1 with Porter stemming (Google's rouge-score, which `evaluate`'s "rouge" wraps;
    `evaluate.load` fetches its metric script from the Hub, so the scorer is used directly)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    return [{name: score.fmeasure for name, score in scorer.score(reference, candidate).items()}
            for candidate in candidates]


def readability(text: str) -> dict[str, float]:
    textstat = textstat_offline()
    return {"fkgl": textstat.flesch_kincaid_grade(text), "dale_chall": textstat.dale_chall_readability_score(text),
            "coleman_liau": textstat.coleman_liau_index(text)}


def factuality(abstract: str, text: str) -> dict[str, float]:
    numbers, problems = number_problems(plain_text(abstract), plain_text(text))
    names = [r for r in check_faithfulness(abstract, text).reasons if r.startswith(("invented_object",
                                                                                    "invented_instrument"))]
    return {"numbers": numbers, "numbers_invented": len(problems), "any_invented_number": float(bool(problems)),
            "any_invented_name": float(bool(names)), "on_task": float(check_on_task(abstract, text).passed)}


@cache
def metric(name: str):
    """The project's `evaluate` module `metrics/<name>`, loaded from this checkout (never the Hub), once."""
    import evaluate

    return evaluate.load(str(METRIC_MODULES / name), keep_in_memory=True)


def generation_key(model: str, prompt: Prompt | None, config: EvalConfig) -> str:
    """What decides a generated explanation: a cached one is reused only while all of this is unchanged."""
    weights = Path(model) / "model.safetensors"
    stamp = f"{weights.stat().st_size}:{weights.stat().st_mtime_ns}" if weights.is_file() else ""
    return "|".join(map(str, (model, stamp, prompt.version if prompt else "student-format", config.max_new_tokens,
                              config.do_sample, config.seed)))


def generate(system: str, model: str, rows: list[dict], config: EvalConfig, cache: Path) -> list[Output]:
    """Greedy (or seeded) generation with plain `pipeline(...)`, one abstract at a time so cost is per item.
    Each explanation is appended to `cache` as it is made, so an interrupted evaluation resumes."""
    import torch
    from transformers import pipeline, set_seed

    prompt = Prompt.load(config.base_prompt) if system == "base" and config.base_prompt != "student" else None
    key = generation_key(model, prompt, config)
    done = {}
    if cache.is_file():
        for line in cache.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["system"] == system and record["key"] == key:
                done[record["arxiv_id"]] = Output(record["text"], record["tokens"], record["seconds"],
                                                  record["hit_limit"])
    todo = [row for row in rows if row["arxiv_id"] not in done]
    if todo:
        if model == "smollm2":
            from .models import resolve_model

            model, _ = resolve_model("smollm2")
        explain = pipeline("text-generation", model=model, dtype=torch.float32)
        tokenizer = explain.tokenizer
    with cache.open("a", encoding="utf-8") as file:
        for row in tqdm(todo, desc=f"eval {system}", unit=" explanation"):
            chat = prompt.messages(Paper(row["arxiv_id"], None, row["title"], row["abstract"], "", "", "", None,
                                         None, "")) if prompt else messages(row["abstract"])
            set_seed(config.seed)
            start = time.perf_counter()
            reply = explain(chat, max_new_tokens=config.max_new_tokens, do_sample=config.do_sample,
                            return_full_text=False)
            seconds = time.perf_counter() - start
            text = reply[0]["generated_text"]
            text = (text if isinstance(text, str) else text[-1]["content"]).strip()
            tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
            done[row["arxiv_id"]] = output = Output(text, tokens, seconds, tokens >= config.max_new_tokens - 1)
            file.write(json.dumps({"system": system, "arxiv_id": row["arxiv_id"], "key": key, **asdict(output)})
                       + "\n")
            file.flush()
    return [done[row["arxiv_id"]] for row in rows]


def teacher_outputs(rows: list[dict], db: str) -> list[Output]:
    """The teacher's stored explanations, with their tokens and their share of the labelling wall time.

    A call of the batched local teacher returns all its explanations after one wait and records that one
    latency on each of them; charging each explanation the whole wait would flatter the student up to the batch
    size. The rows of one call share their batch and their latency, so each explanation is charged the call's
    latency divided by the explanations that call produced (an endpoint call produces one; calls made with
    `concurrency` > 1 overlap, which this cannot see, so it still overstates the teacher's share there)."""
    costs = {}
    if Path(db).is_file():
        with Store(db) as store:
            generations = store.generation_costs()
        calls = Counter((batch, latency) for _, batch, _, latency, _ in generations if latency is not None)
        costs = {row[0]: (row[2], row[3] / calls[(row[1], row[3])] if row[3] else None, row[4])
                 for row in generations}
    outputs = []
    for row in rows:
        tokens, latency, finish = costs.get(row.get("generation_id"), (None, None, None))
        outputs.append(Output(row["reference"], tokens, latency / 1000 if latency else None,
                              hit_limit=finish in ("length", "length_trimmed")))
    return outputs


def score_system(rows: list[dict], outputs: list[Output], is_reference: bool) -> dict[str, list]:
    """Per-item values of every metric (rates as 0/1), for the means, their intervals and the plots."""
    abstracts = [row["abstract"] for row in rows]
    texts = [output.text for output in outputs]
    per_item = {"words": [len(text.split()) for text in texts],
                **metric("minilm_similarity").compute(predictions=texts, references=abstracts, per_item=True),
                **metric("astro_readability").compute(predictions=texts, per_item=True)}
    if not is_reference:
        scores = [rouge(row["reference"], [text])[0] for row, text in zip(rows, texts, strict=True)]
        for name in ("rouge1", "rouge2", "rougeL"):
            per_item[name] = [score[name] for score in scores]
    per_item.update(metric("astro_faithfulness").compute(predictions=texts, sources=abstracts, per_item=True))
    degeneration = metric("astro_degeneration").compute(predictions=texts, sources=abstracts, per_item=True)
    per_item.update({
        "degenerate_rate": degeneration["degenerate_rate"],
        "truncated_rate": [float(output.hit_limit or unfinished(output.text)) for output in outputs],
        "tokens_per_explanation": [output.tokens for output in outputs],
        "seconds_per_explanation": [output.seconds for output in outputs],
    })
    return per_item


def summarise(per_item: dict[str, list]) -> dict:
    """Mean, 95 % bootstrap interval (`<metric>_ci`) and n of every metric; the median grade beside its mean."""
    metrics = {}
    for name, values in per_item.items():
        known = [value for value in values if value is not None]
        metrics[name] = statistics.fmean(known) if known else None
        metrics[f"{name}_ci"] = list(bootstrap(known)) if known else None
    metrics["fkgl_median"] = statistics.median(per_item["fkgl"])
    metrics["n"] = len(per_item["words"])
    return metrics


def rated(path: str, arxiv_ids: set[str]) -> dict[str, dict]:
    """Blind ratings of the evaluated papers per system: acceptable / faithful / degenerate with Wilson intervals."""
    records = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    by_system: dict[str, list[dict]] = {}
    for record in records:
        if record["arxiv_id"] in arxiv_ids:
            by_system.setdefault(record["system"], []).append(record)
    result = {}
    for system, items in by_system.items():
        result[system] = {"n": len(items)}
        for key in ("acceptable", "faithful", "degenerate"):
            hits = sum(bool(item[key]) for item in items)
            result[system][key] = hits / len(items)
            result[system][f"{key}_ci"] = list(wilson(hits, len(items)))
    return result


def load_rows(config: EvalConfig) -> list[dict]:
    from datasets import load_dataset

    split = load_dataset(config.dataset, split=config.split)
    rows = [{"arxiv_id": record.get("arxiv_id"), "title": record.get("title") or "",
             "abstract": abstract_of(record["prompt"]),
             "reference": explanation_of(record["completion"]), "generation_id": record.get("generation_id")}
            for record in split]
    rows = rows[:config.limit] if config.limit else rows
    if not rows:
        raise ValueError(f"{config.dataset}: split {config.split!r} is empty; nothing to evaluate")
    return rows


def evaluate(config: EvalConfig) -> dict:
    rows = load_rows(config)
    systems = [name.strip() for name in config.systems.split(",") if name.strip()]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        raise ValueError(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    folder = Path(config.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    abstracts = [row["abstract"] for row in rows]
    outputs = {}
    for name in systems:
        if name == "teacher":
            outputs[name] = teacher_outputs(rows, config.db)
        elif name == "lead3":
            start = time.perf_counter()
            texts = [lead3(abstract) for abstract in abstracts]
            seconds = (time.perf_counter() - start) / len(texts)
            outputs[name] = [Output(text, None, seconds) for text in texts]
        else:
            outputs[name] = generate(name, config.student if name == "student" else config.base, rows, config,
                                     folder / "outputs.jsonl")
    distributions = {name: score_system(rows, produced, is_reference=name == "teacher")
                     for name, produced in outputs.items()}
    metrics = {name: summarise(per_item) for name, per_item in distributions.items()}
    if "student" in metrics and "teacher" in metrics:
        student, teacher = metrics["student"], metrics["teacher"]
        for key in ("seconds_per_explanation", "tokens_per_explanation"):
            if student[key] and teacher[key]:
                student[key.replace("_per_explanation", "_vs_teacher")] = student[key] / teacher[key]
    result = {"n": len(rows), "split": config.split, "dataset": config.dataset, "config": asdict(config),
              "systems": metrics,
              "samples": {name: [output.text for output in produced[:2]] for name, produced in outputs.items()
                          if name != "lead3"}}  # lead-3 is the abstract's own text
    if config.ratings:
        result["rated"] = rated(config.ratings, {row["arxiv_id"] for row in rows})
    (folder / "metrics.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    plots(distributions, metrics, folder)
    (folder / "report.md").write_text(report(result, rows), encoding="utf-8")
    (folder / "examples.md").write_text(examples(rows, outputs, distributions), encoding="utf-8")
    return result


# metric -> (label, which way is better: "high", "low", or a (low, high) target range)
METRICS = {
    "rouge1": ("ROUGE-1 vs teacher", "high"), "rouge2": ("ROUGE-2 vs teacher", "high"),
    "rougeL": ("ROUGE-L vs teacher", "high"), "similarity": ("MiniLM similarity to the abstract", "high"),
    "fkgl": ("Flesch-Kincaid grade", (6.0, 10.0)), "dale_chall": ("Dale-Chall score", "low"),
    "coleman_liau": ("Coleman-Liau index", (6.0, 10.0)), "words": ("words", (120.0, 200.0)),
    "invented_number_rate": ("explanations with an invented number", "low"),
    "invented_name_rate": ("explanations with an invented object / instrument", "low"),
    "on_task_rate": ("on task", "high"), "truncated_rate": ("runaway or truncated", "low"),
    "degenerate_rate": ("degenerate (loops, repeats, made-up words)", "low"),
    "tokens_per_explanation": ("tokens per explanation", None),
    "seconds_per_explanation": ("seconds per explanation", "low"),
}
TABLES = {"Relevance": ("rouge1", "rouge2", "rougeL", "similarity"),
          "Readability": ("fkgl", "dale_chall", "coleman_liau", "words"),
          "Factuality and form": ("invented_number_rate", "invented_name_rate", "on_task_rate", "degenerate_rate",
                                  "truncated_rate"),
          "Cost": ("tokens_per_explanation", "seconds_per_explanation")}
# The headline metrics: the model card's evaluation table and the summaries `eval` and `run` print; the plot
# shows those that are not cost.
HEADLINE_METRICS = ("rougeL", "similarity", "fkgl", "invented_number_rate", "on_task_rate", "truncated_rate",
                    "seconds_per_explanation")


def _cell(value) -> str:
    return "n/a" if value is None else f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def with_interval(metrics: dict, name: str) -> str:
    """'0.250 [0.140, 0.380]': a mean and its 95 % interval as the tables show them."""
    interval = metrics.get(f"{name}_ci")
    if metrics.get(name) is None or not interval:
        return _cell(metrics.get(name))
    return f"{_cell(metrics[name])} [{_cell(interval[0])}, {_cell(interval[1])}]"


def headline(result: dict) -> tuple[list[str], list[list[str]]]:
    """The headline table `eval` prints: a header (metric, then each system with its n) and one row per headline
    metric, each cell a mean with its 95 % interval; the full tables are in report.md."""
    systems = result["systems"]
    header = ["metric", *(f"{name} (n={values['n']})" for name, values in systems.items())]
    return header, [[METRICS[metric][0], *(with_interval(values, metric) for values in systems.values())]
                    for metric in HEADLINE_METRICS]


def verdict(metric: str, values: dict[str, float | None]) -> str:
    """One plain-English sentence: which system does best on the metric, and where the student stands."""
    label, better = METRICS[metric]
    known = {name: value for name, value in values.items() if value is not None}
    if better is None or len(known) < 2:
        return ""
    if isinstance(better, tuple):
        low, high = better
        def distance(value):
            return max(low - value, 0, value - high)
        best = min(known, key=lambda name: distance(known[name]))
        inside = [name for name, value in known.items() if not distance(value)]
        text = f"{label}: target {low:g}-{high:g}; " + (f"inside: {', '.join(inside)}." if inside else
                                                          f"closest: {best} ({_cell(known[best])}).")
    else:
        best = (max if better == "high" else min)(known, key=known.get)
        text = f"{label}: best is {best} ({_cell(known[best])}, {'higher' if better == 'high' else 'lower'} is better)."
    if "student" in known and best != "student":
        text += f" The student has {_cell(known['student'])}."
    return text


def report(result: dict, rows: list[dict]) -> str:
    systems = result["systems"]
    names = list(systems)
    lines = [f"# Evaluation on {result['n']} papers ({result['dataset']}, split `{result['split']}`)", "",
             "Systems: " + ", ".join(f"{name} (n={systems[name]['n']})" for name in names) + ". The teacher's "
             "explanations are the ROUGE reference; lead3 is the first three sentences of the abstract; base is the "
             f"untuned model given `{result['config']['base_prompt']}`. Greedy decoding unless `do_sample` is set "
             "(then seeded). Cells: mean [95 % bootstrap interval].", ""]
    if result["n"] < MIN_PAPERS:
        lines += [f"**Too few to conclude:** {result['n']} papers (fewer than {MIN_PAPERS}); the intervals are too "
                  "wide for a comparison, so no table is shown (the figures are in metrics.json).", ""]
    else:
        for title, metrics in TABLES.items():
            lines += [f"## {title}", "", "| metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
            for metric in metrics:
                lines.append(f"| {METRICS[metric][0]} | " + " | ".join(with_interval(systems[n], metric)
                                                                         for n in names) + " |")
            if title == "Readability":
                lines.append("| median Flesch-Kincaid grade | " + " | ".join(_cell(systems[n]["fkgl_median"])
                                                                             for n in names) + " |")
            lines.append("")
            lines += [f"- {text}" for metric in metrics if (text := verdict(metric, {n: systems[n].get(metric)
                                                                                      for n in names}))]
            lines.append("")
        if result.get("rated"):
            lines += ["## Rated by careful reading (blind to the system)", "",
                      "| system | n | acceptable | faithful | degenerate |", "|---|---|---|---|---|"]
            for name, rates in result["rated"].items():
                lines.append(f"| {name} | {rates['n']} | " + " | ".join(with_interval(rates, key) for key in
                                                                          ("acceptable", "faithful", "degenerate"))
                             + " |")
            lines += ["", "Rates with 95 % Wilson intervals; the guideline is docs/rating.md.", ""]
    lines += ["Seconds are wall time per explanation on one basis: the student, base and lead-3 produce one "
              "explanation at a time here; the teacher's figure is each explanation's share of the labelling call "
              "that produced it (a batched call's latency divided by the explanations it returned; n/a for "
              "explanations imported from elsewhere, whose cost this store never saw).", ""]
    student = systems.get("student", {})
    if student.get("seconds_vs_teacher"):
        lines += [f"**Distillation payoff:** the student takes {student['seconds_vs_teacher']:.2f}x the teacher's "
                  f"wall time per explanation ({_cell(student['seconds_per_explanation'])} s vs "
                  f"{_cell(systems['teacher']['seconds_per_explanation'])} s).", ""]
    lines += ["## Plots", "", "![metrics](metrics.png)", "![readability](readability.png)", "![length](length.png)",
              "", "Side-by-side explanations of the first 20 papers: examples.md.", ""]
    return "\n".join(lines)


def examples(rows: list[dict], outputs: dict[str, list[Output]], distributions: dict, count: int = 20) -> str:
    """The first `count` papers side by side, each explanation with the automatic checks that flagged it. Papers
    are cited by arXiv id only and lead-3 is left out: it is the abstract's own text, which reports never copy."""
    lines = ["# Side-by-side examples", "", "Each paper is cited by its arXiv id; the explanations follow, each with "
             "the automatic flags (invented number / name, degenerate, truncated). lead3 is omitted: it is the "
             "abstract's own first three sentences.", ""]
    flags = ("invented_number_rate", "invented_name_rate", "degenerate_rate", "truncated_rate")
    for index, row in enumerate(rows[:count]):
        lines += [f"## {index + 1}. arXiv:{row['arxiv_id']}", ""]
        for name, produced in [(name, produced) for name, produced in outputs.items() if name != "lead3"]:
            raised = [flag.removesuffix("_rate") for flag in flags if distributions[name][flag][index]]
            lines += [f"**{name}** ({', '.join(raised) or 'no flags'}):", "", produced[index].text, ""]
    return "\n".join(lines)


def plots(distributions: dict, metrics: dict, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(metrics)
    shown = [metric for metric in HEADLINE_METRICS if metric not in TABLES["Cost"]]
    figure, axes = plt.subplots(2, 3, figsize=(12, 6))
    for axis, metric in zip(axes.flat, shown, strict=True):
        values = [metrics[name].get(metric) or 0.0 for name in names]
        intervals = [metrics[name].get(f"{metric}_ci") or [values[i], values[i]] for i, name in enumerate(names)]
        errors = [[max(values[i] - intervals[i][0], 0) for i in range(len(names))],
                  [max(intervals[i][1] - values[i], 0) for i in range(len(names))]]
        axis.bar([f"{name}\nn={metrics[name]['n']}" for name in names], values, yerr=errors, capsize=4,
                 color=["C0", "C1", "C2", "C3"][:len(names)])
        axis.set_title(METRICS[metric][0] + " (95 % CI)", fontsize=9)
        axis.tick_params(labelsize=8)
    figure.tight_layout()
    figure.savefig(folder / "metrics.png", dpi=100)
    plt.close(figure)
    for filename, key, xlabel in (("readability.png", "fkgl", "Flesch-Kincaid grade"),
                                  ("length.png", "words", "words per explanation")):
        figure, axis = plt.subplots(figsize=(7, 4))
        axis.hist([distributions[name][key] for name in names], label=[f"{n} (n={metrics[n]['n']})" for n in names],
                  bins=10)
        axis.set_xlabel(xlabel)
        axis.set_ylabel("explanations")
        axis.legend()
        figure.tight_layout()
        figure.savefig(folder / filename, dpi=100)
        plt.close(figure)
