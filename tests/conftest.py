"""Shared fixtures: invented papers (written for this project, not copied) and a local HTTP server."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import orjson
import pytest

# Illustrative papers invented for the tests; ids are well-formed but the texts describe no real work.
PAPERS = [
    {"id": "2401.00001", "version": 1, "title": "A cold stream feeding a\n  dwarf galaxy",
     "abstract": "We report a thin stream of cold gas falling onto a dwarf galaxy at z = 0.8.\n"
                 "The stream carries about $10^{8}\\,M_\\odot$ of hydrogen.",
     "categories": "astro-ph.GA astro-ph.CO", "authors": "A. Lovelace, B. Noether"},
    {"id": "2401.00002", "version": 2, "title": "Pulsar timing with a small dish",
     "abstract": "We time 12 millisecond pulsars with a 15 m dish over three years and reach 200 ns precision.",
     "categories": "astro-ph.HE", "authors": "C. Payne"},
    {"id": "2401.00003", "version": 1, "title": "Dust lanes in young discs",
     "abstract": "Images of 40 protoplanetary discs show dark lanes whose width grows with stellar mass.",
     "categories": "astro-ph.EP astro-ph.SR", "authors": "D. Leavitt, E. Cannon"},
    {"id": "2401.00004", "version": 1, "title": "Calibrating a radio array with drones",
     "abstract": "A drone carrying a noise source maps the beam of a 64-element array to 1 per cent.",
     "categories": "astro-ph.IM", "authors": "F. Herschel"},
    {"id": "2401.00005", "version": 3, "title": "Flares from a red dwarf",
     "abstract": "Space photometry of one red dwarf shows 57 flares in 80 days, the largest lasting 2 hours.",
     "categories": "astro-ph.SR", "authors": "G. Maury"},
]
OUTSIDER = {"id": "2401.00099", "version": 1, "title": "A lemma on graphs",
            "abstract": "We prove a short lemma about colouring planar graphs.", "categories": "math.CO",
            "authors": "H. Euler"}


def kaggle_line(paper: dict, **changes) -> bytes:
    """One line of the Kaggle arxiv-metadata-oai-snapshot schema."""
    paper = {**paper, **changes}
    record = {
        "id": paper["id"], "submitter": None, "authors": paper["authors"], "title": paper["title"],
        "comments": None, "journal-ref": None, "doi": None, "report-no": None,
        "categories": paper["categories"], "license": None, "abstract": paper["abstract"],
        "versions": [{"version": f"v{v}", "created": f"Tue, {v} Jan 2024 10:00:00 GMT"}
                     for v in range(1, paper["version"] + 1)],
        "update_date": "2024-01-09", "authors_parsed": [],
    }
    return orjson.dumps(record) + b"\n"


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def atom_feed(papers: list[dict], total: int, start: int) -> bytes:
    """An arXiv API response page (Atom 1.0 with the opensearch and arxiv extensions)."""
    entries = []
    for paper in papers:
        categories = paper["categories"].split()
        authors = "".join(f"<author><name>{_xml(a.strip())}</name></author>" for a in paper["authors"].split(","))
        tags = "".join(f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in categories)
        entries.append(f"""<entry>
    <id>http://arxiv.org/abs/{paper['id']}v{paper['version']}</id>
    <updated>2024-01-0{paper['version']}T10:00:00Z</updated>
    <published>2024-01-01T10:00:00Z</published>
    <title>{_xml(paper['title'])}</title>
    <summary>{_xml(paper['abstract'])}</summary>
    {authors}
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="{categories[0]}"
      scheme="http://arxiv.org/schemas/atom"/>
    {tags}
  </entry>""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"
      xmlns:arxiv="http://arxiv.org/schemas/atom">
  <title type="html">ArXiv Query</title>
  <id>http://arxiv.org/api/fixture</id>
  <updated>2024-01-10T00:00:00-05:00</updated>
  <opensearch:totalResults>{total}</opensearch:totalResults>
  <opensearch:startIndex>{start}</opensearch:startIndex>
  <opensearch:itemsPerPage>{len(papers)}</opensearch:itemsPerPage>
  {''.join(entries)}
</feed>""".encode()


def oai_page(papers: list[dict], token: str, cursor: int, total: int) -> bytes:
    """An OAI-PMH ListRecords response with arXivRaw metadata and a resumption token ('' on the last page)."""
    records = []
    for paper in papers:
        versions = "".join(f'<version version="v{v}"><date>Tue, {v} Jan 2024 10:00:00 GMT</date>'
                           f"<size>100kb</size><source_type>D</source_type></version>"
                           for v in range(1, paper["version"] + 1))
        records.append(f"""<record><header><identifier>oai:arXiv.org:{paper['id']}</identifier>
  <datestamp>2024-01-09</datestamp><setSpec>physics:astro-ph</setSpec></header>
  <metadata><arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://arxiv.org/OAI/arXivRaw/ http://arxiv.org/OAI/arXivRaw.xsd">
  <id>{paper['id']}</id><submitter>Someone</submitter>{versions}
  <title>{_xml(paper['title'])}</title><authors>{_xml(paper['authors'])}</authors>
  <categories>{paper['categories']}</categories><license>http://creativecommons.org/licenses/by/4.0/</license>
  <abstract>{_xml(paper['abstract'])}</abstract></arXivRaw></metadata></record>""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">
<responseDate>2024-01-10T00:00:00Z</responseDate>
<request verb="ListRecords">http://127.0.0.1/oai</request>
<ListRecords>{''.join(records)}
<resumptionToken cursor="{cursor}" completeListSize="{total}">{token}</resumptionToken>
</ListRecords></OAI-PMH>""".encode()


RESET = (0, {}, b"")  # a handler returning this makes the server drop the connection with a TCP reset


class LocalServer:
    """A real HTTP server on 127.0.0.1; `handler(path, query)` (GET) or `handler(path, query, body)` (POST)
    returns (status, headers, body), or RESET."""

    def __init__(self, handler: Callable[..., tuple[int, dict, bytes]]):
        self.requests: list[tuple[str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                url = urlparse(self.path)
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                outer.requests.append((url.path, query))
                self._reply(handler(url.path, query))

            def do_POST(self):  # noqa: N802
                url = urlparse(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append((url.path, {}))
                self._reply(handler(url.path, {}, body))

            def _reply(self, reply):
                if reply is RESET:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                status, headers, body = reply
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_server():
    servers: list[LocalServer] = []

    def start(handler):
        servers.append(LocalServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="session")
def tiny_chat_model(tmp_path_factory):
    """A tiny randomly initialised Llama with SmolLM2's tokenizer and chat template: real transformers
    generation in well under a second, for tests of the machinery (its words are noise)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from miniastrolm.models import resolve_model

    folder, _ = resolve_model("smollm2")  # converts the embedded GGUF once (cached)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.eos_token_id)
    import torch

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-chat-model")
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


@pytest.fixture(scope="session")
def tiny_student(tmp_path_factory):
    """A tiny GPT-2 trained by the tiny recipe on the fixed fixture dataset (tests/student_data.py): it learns
    the eight training pairs, including where each explanation ends. Returns (model folder, dataset folder)."""
    from pathlib import Path

    from miniastrolm.train import parse, train

    from student_data import write_student_dataset

    folder = tmp_path_factory.mktemp("student")
    dataset = write_student_dataset(folder / "dataset")
    recipe = Path(__file__).parents[1] / "recipes" / "student" / "tiny-sft.yaml"
    script, sft, model_args = parse(["--config", str(recipe), "--dataset_name", str(dataset),
                                     "--output_dir", str(folder / "student"), "--max_steps", "80",
                                     "--eval_steps", "40", "--save_steps", "40", "--load_best_model_at_end", "false"])
    return train(script, sft, model_args), dataset


@contextmanager
def serving(explainer, **options):
    """`miniastrolm serve`'s app under a real uvicorn server on 127.0.0.1; yields its URL once it answers."""
    import requests
    import uvicorn

    from miniastrolm.http import free_port
    from miniastrolm.serve import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(explainer, **options), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(url + "/health", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


COMMIT_URL = "https://huggingface.co/me/repo/commit/1111"


@pytest.fixture
def hub_calls(monkeypatch) -> list[tuple]:
    """No Hub is reachable here: this records the calls made at the huggingface_hub boundary (HfApi) instead."""
    import huggingface_hub

    calls = []

    class RecordingApi:
        def __init__(self, token=None):
            calls.append(("init", token))

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id, kwargs))

        def create_branch(self, repo_id, **kwargs):
            calls.append(("create_branch", repo_id, kwargs))

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", kwargs))
            return huggingface_hub.CommitInfo(commit_url=COMMIT_URL, commit_message="m", commit_description="",
                                              oid="1" * 40)

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    return calls
