"""Benchmark the API server against the engine it wraps: does HTTP + SSE (+ the SDK) cost more than 10 %?

On the real Gemma 3 270M (the registry's `gemma-3-270m`, llama.cpp engine), the same streamed generations
are timed calling the engine in-process and through `caretune serve` (a subprocess on a loopback port),
rounds interleaved so machine load hits every path alike (medians reported). Three clients of the API,
which on these 2 cores compete with the server and llama.cpp for CPU (a remote app would not):
- stdlib: plain streamed requests with the standard library's http.client, a kept-alive connection per
  thread; the leanest client, so the closest to the server's own cost;
- HTTP: the same with httpx (one client, its connection pool), as a Python app calls it;
- SDK: the official `openai` SDK. It adds its own client-side work per request (building the request in
  Python, and a new TCP connection per stream: the sync client stops reading at `[DONE]` without draining
  the chunked body, so the connection cannot be reused).
For 1 client (one stream per prompt, --rounds times) and for 8 concurrent clients (a burst: one stream per
prompt, all released together, repeated --bursts times): time to first token (TTFT; the mean over the 8 of
a burst) and tokens/s (per stream for 1 client, aggregate for 8). This machine drifts by 10 % a minute, so
each stream or burst runs on every path in turn, and a ratio is the median over them of the API's figure
against the engine's in the same trial (with its quartiles), not a ratio of two medians. Every
API client has its connection open before it is timed, as an app that talks to the server has: opening
one costs the client and the server work on these cores that the engine path has no counterpart for. The
8 concurrent clients are threads of this process (8 threads of one Python process take 5-12 ms to send 8
HTTP requests), and, for the stdlib client, also 8 client processes, as separate apps are.
End-of-sequence tokens are banned (logit_bias -100) so every stream generates exactly max_tokens.
Target: API >= 0.9x engine.

    nice -n 10 python bench/serve.py [--model gemma-3-270m] [--max-tokens 128] [--rounds 3] [--bursts 12]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from infer import QUESTIONS, rotated  # bench/ is on sys.path when run: infer.py's prompts and trial order


def timed(stream: Iterator[str]) -> tuple[float, float, int]:
    """(TTFT s, decode tokens/s after the first token, pieces) of a stream of text pieces."""
    start = time.perf_counter()
    first = None
    pieces = 0
    for text in stream:
        if text:
            pieces += 1
            first = first if first is not None else time.perf_counter()
    end = time.perf_counter()
    assert first is not None, "nothing generated"
    return first - start, (pieces - 1) / max(end - first, 1e-9), pieces


@dataclass
class ClientPath:
    """One way to stream a completion: ``stream(prompt)`` yields its text pieces; ``warm()``, called in the
    thread that streams next and outside the timing, opens that thread's connection to the server."""

    stream: Callable[[str], Iterator[str]]
    warm: Callable[[], object] = lambda: None


def engine_texts(engine, params) -> ClientPath:
    """The engine called directly: the text of each streamed event."""

    def run(prompt: str) -> Iterator[str]:
        yield from (event.text for event in engine.stream(prompt, params))

    return ClientPath(run)


def api_texts(client, model: str, max_tokens: int, bias: dict[str, int]) -> ClientPath:
    """The same generation through the server: completions with stream=True, via the openai SDK."""

    def run(prompt: str) -> Iterator[str]:
        stream = client.completions.create(
            model=model, prompt=prompt, max_tokens=max_tokens, temperature=0, stop=[], logit_bias=bias,
            stream=True,
        )
        yield from (chunk.choices[0].text for chunk in stream if chunk.choices)

    return ClientPath(run, client.models.list)


def stream_body(model: str, max_tokens: int, bias: dict[str, int]) -> dict:
    """The streamed completions request both plain-HTTP clients send (the prompt added per request)."""
    return {"model": model, "max_tokens": max_tokens, "temperature": 0, "stop": [], "logit_bias": bias, "stream": True}


def streamed_texts(lines: Iterable[str]) -> Iterator[str]:
    """The text of each completion chunk among server-sent event lines ("" for the usage-only chunk)."""
    for line in lines:
        if line.startswith("data: {"):
            choices = json.loads(line[6:])["choices"]
            yield choices[0]["text"] if choices else ""


def http_texts(base_url: str, model: str, max_tokens: int, bias: dict[str, int]) -> ClientPath:
    """The same generation through the server with plain HTTP: httpx's kept-alive connections, SSE parsed here."""
    import httpx

    client = httpx.Client(base_url=base_url, timeout=600)
    body = stream_body(model, max_tokens, bias)

    def run(prompt: str) -> Iterator[str]:
        with client.stream("POST", "/completions", json={**body, "prompt": prompt}) as response:
            response.raise_for_status()
            yield from streamed_texts(response.iter_lines())

    return ClientPath(run, lambda: client.get("/models").raise_for_status())


def raw_texts(port: int, model: str, max_tokens: int, bias: dict[str, int]) -> ClientPath:
    """The same generation with the leanest client: the standard library's http.client, a kept-alive
    connection per thread. On these 2 cores every client competes with the server and llama.cpp for CPU;
    this one takes the least, so it shows the server's own cost closest (a remote app takes none here)."""
    import http.client

    local = threading.local()
    body = stream_body(model, max_tokens, bias)

    def send(method: str, path: str, payload: str | None = None) -> http.client.HTTPResponse:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        local.conn.request(method, path, payload, {"Content-Type": "application/json"})
        return local.conn.getresponse()

    def warm() -> None:
        try:
            response = send("GET", "/v1/models")
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            local.conn.close()  # uvicorn closes a connection idle for 5 s; this opens a new one
            response = send("GET", "/v1/models")
        response.read()

    def run(prompt: str) -> Iterator[str]:
        response = send("POST", "/v1/completions", json.dumps({**body, "prompt": prompt}))
        assert response.status == 200, response.read()
        yield from streamed_texts(line.decode() for line in response)
        response.read()  # the end of the chunked body, so the connection is reused

    return ClientPath(run, warm)


def one_client(path: ClientPath, prompt: str) -> dict[str, float]:
    """TTFT and tokens/s of one stream, its connection opened first, outside the timing."""
    path.warm()
    ttft, tok_s, _ = timed(path.stream(prompt))
    return {"ttft_s": ttft, "tok_s": tok_s}


def concurrent_clients(path: ClientPath, prompts: list[str]) -> dict[str, float]:
    """Mean TTFT and aggregate tokens/s of one stream per prompt from threads released together (a barrier),
    each with its connection open."""
    barrier, results = threading.Barrier(len(prompts) + 1), []

    def run(prompt: str) -> None:
        path.warm()
        barrier.wait()
        results.append(timed(path.stream(prompt)))

    threads = [threading.Thread(target=run, args=(p,)) for p in prompts]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return {"ttft_s": statistics.mean(r[0] for r in results), "tok_s": sum(r[2] for r in results) / wall}


def _burst_client(port: int, model: str, max_tokens: int, bias: dict[str, int], prompt: str, barrier, out) -> None:
    """One client process of an API burst: its connection open, it sends when all are ready, and reports its
    TTFT."""
    path = raw_texts(port, model, max_tokens, bias)
    path.warm()
    barrier.wait()
    out.put(timed(path.stream(prompt))[0])


def api_burst(port: int, model: str, max_tokens: int, bias: dict[str, int], prompts: list[str]) -> float:
    """Mean TTFT of one stream per prompt from client processes released together: separate clients, as
    separate apps are, so the time 8 threads of one Python process need to send does not count."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # the parent holds a loaded engine and its threads
    barrier, out = context.Barrier(len(prompts)), context.Queue()
    processes = [
        context.Process(target=_burst_client, args=(port, model, max_tokens, bias, prompt, barrier, out))
        for prompt in prompts
    ]
    for process in processes:
        process.start()
    ttfts = [out.get() for _ in prompts]
    for process in processes:
        process.join()
    return statistics.mean(ttfts)


Samples = dict[str, dict[str, dict[str, list[float]]]]  # path → setting → metric → one figure per round/burst


def measure(paths: dict[str, ClientPath], prompts: list[str], rounds: int, bursts: int) -> Samples:
    """For each path (engine, stdlib, HTTP, SDK), after a warm-up stream: `rounds` streams of each prompt one
    at a time, then `bursts` 8-client bursts. Each trial (a stream of one prompt, or a burst) runs on every path
    in turn before the next, so the machine's drift hits all paths alike and every API figure has an engine
    figure of moments before or after to be compared with; the order rotates from trial to trial."""
    for path in paths.values():
        one_client(path, prompts[0])
    trials: list[tuple[str, Callable[[ClientPath], dict[str, float]]]] = [
        ("1 client", lambda path, prompt=prompt: one_client(path, prompt)) for _ in range(rounds) for prompt in prompts
    ]
    trials += [("8 clients", lambda path: concurrent_clients(path, prompts))] * bursts
    samples: Samples = {p: {"1 client": _metrics(), "8 clients": _metrics()} for p in paths}
    for k, (setting, run) in enumerate(trials):
        for name in rotated(list(paths), k):
            for metric, value in run(paths[name]).items():
                samples[name][setting][metric].append(value)
    return samples


def _metrics() -> dict[str, list[float]]:
    return {"ttft_s": [], "tok_s": []}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: str, data_dir: Path, port: int, options: Sequence[str] = ()) -> subprocess.Popen:
    """``caretune serve`` (with more ``options``) in a subprocess, as a user runs it; returns once it answers."""
    import httpx

    command = [sys.executable, "-c", "from caretune.cli import main; main()", "serve", "--port", str(port),
               "--data-dir", str(data_dir), "--model", model, "--no-auth", "--max-queue", "64", *options]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("server did not start")


def quartiles(values: list[float], digits: int = 3) -> str:
    """The middle half of the samples, as "q1-q3"."""
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"{q1:.{digits}f}-{q3:.{digits}f}"


def paired_ratio(engine: list[float], api: list[float], metric: str) -> str:
    """The median over trials of the API's figure against the engine's in the same trial, with its quartiles:
    "x of the engine", >= 0.9 is the target either way (for a time the engine's over the API's)."""
    ratios = [e / a if metric == "ttft_s" else a / e for e, a in zip(engine, api)]
    return f"{statistics.median(ratios):.2f}x ({quartiles(ratios, 2)})"


def report(samples: Samples) -> None:
    """One row per setting and metric: each path's median figure, then each API path's paired ratio."""
    apis = [name for name in samples if name != "engine"]
    header = " ".join(f"{n:>9}" for n in samples) + " " + " ".join(f"{n + '/engine':>18}" for n in apis)
    print(f"{'':10} {'metric':8} {header}")
    engine = samples["engine"]
    for setting in engine:
        for metric, figures in engine[setting].items():
            medians = " ".join(f"{statistics.median(samples[n][setting][metric]):9.3f}" for n in samples)
            ratios = " ".join(f"{paired_ratio(figures, samples[n][setting][metric], metric):>18}" for n in apis)
            print(f"{setting:10} {metric:8} {medians} {ratios}")
    print(f"(1 client: {len(engine['1 client']['ttft_s'])} streams per path; 8 clients: "
          f"{len(engine['8 clients']['ttft_s'])} bursts per path; ratio: median over them, with quartiles)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3, help="1-client rounds (one stream per prompt each)")
    parser.add_argument("--bursts", type=int, default=12, help="8-client bursts per path")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from openai import OpenAI

    from caretune.engines import SamplingParams, load_engine

    engine = load_engine(args.model)
    tokenizer = engine.prompting.tokenizer
    banned = {t: -100.0 for t in {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_turn>")}}
    prompts = [engine.render_chat([{"role": "user", "content": q}]) for q in QUESTIONS[:8]]  # one per concurrent client
    params = SamplingParams(temperature=0, max_tokens=args.max_tokens, logit_bias=banned, stop=[])
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(args.model, Path(data_dir), port)
        try:
            client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=600)
            bias = {str(t): -100 for t in banned}
            paths = {
                "engine": engine_texts(engine, params),
                "stdlib": raw_texts(port, args.model, args.max_tokens, bias),
                "HTTP": http_texts(f"http://127.0.0.1:{port}/v1", args.model, args.max_tokens, bias),
                "SDK": api_texts(client, args.model, args.max_tokens, bias),
            }
            samples = measure(paths, prompts, args.rounds, args.bursts)
            bursts = [
                (
                    concurrent_clients(paths["engine"], prompts)["ttft_s"],
                    api_burst(port, args.model, args.max_tokens, bias, prompts),
                )
                for _ in range(args.bursts)
            ]
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(f"model {args.model}, {args.max_tokens} tokens per stream, greedy, EOS banned")
    report(samples)
    engine_ttft, api_ttft = ([b[i] for b in bursts] for i in (0, 1))
    print(
        f"8 clients as processes (engine: threads; API: stdlib client processes), {len(bursts)} bursts' mean "
        f"TTFT, median (quartiles): engine {statistics.median(engine_ttft):.3f} s ({quartiles(engine_ttft)}), "
        f"API {statistics.median(api_ttft):.3f} s ({quartiles(api_ttft)}), "
        f"{paired_ratio(engine_ttft, api_ttft, 'ttft_s')}"
    )


if __name__ == "__main__":
    main()
