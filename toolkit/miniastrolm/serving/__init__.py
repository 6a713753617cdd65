"""The parts of `miniastrolm serve` (serve.py puts them together): the queue and its batching worker, the
request models, the OpenAI chat shape, the metrics and the ASGI wrappers."""
