"""ExplainPipeline on a CUDA machine: which device `pipeline()` put the student on, and whether `explain()` and
`stream()` (what `miniastrolm explain --stream`, serve's /explain/stream and the Space use) finish there.
stream() runs generate in a worker thread and reads a TextIteratorStreamer with no timeout: if generate raises
in that thread, the reader waits forever. A watchdog here turns that into a reported failure.

    python benchmarks/gpu_stream_check.py MODEL_FOLDER
"""

from __future__ import annotations

import sys
import threading
import time
import traceback

import torch

from miniastrolm.explain import ExplainPipeline

ABSTRACT = ("Using four years of photometry from a space telescope, we measure the rotation periods of 340 red "
            "dwarfs in a young open cluster. Stars with periods shorter than two days flare ten times more often "
            "than slower rotators.")
errors: list[str] = []
threading.excepthook = lambda args: errors.append("".join(traceback.format_exception(args.exc_value)))


def watched(name, call, seconds=20.0):
    result: dict = {}

    def run():
        start = time.perf_counter()
        try:
            result["value"] = call()
        except Exception as error:  # noqa: BLE001
            result["error"] = f"{type(error).__name__}: {error}"
        result["seconds"] = time.perf_counter() - start

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        print(f"{name}: HUNG (no result after {seconds:.0f} s)")
    elif "error" in result:
        print(f"{name}: FAILED {result['error']}")
    else:
        print(f"{name}: ok in {result['seconds']:.2f} s: {str(result['value'])[:160]!r}")
    for error in errors:
        print(f"  exception in a worker thread:\n{error[-1500:]}")
    errors.clear()


pipe = ExplainPipeline(sys.argv[1], check=False, max_new_tokens=40)
print("cuda available:", torch.cuda.is_available(), "| student on:", pipe.pipe.model.device,
      "| dtype:", pipe.pipe.model.dtype)
watched("explain()", lambda: pipe.explain(ABSTRACT).explanation)
watched("stream()", lambda: "".join(pipe.stream(ABSTRACT)))
watched("stream(timeout_seconds=5)", lambda: "".join(pipe.stream(ABSTRACT, timeout_seconds=5)))
