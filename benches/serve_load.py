#!/usr/bin/env python3
"""Serving under load: wrk against /feeds/ukraine.atom of a store with N items, beside a minimal
static server serving the same feed from data/public/ (the baseline).

Builds the release binary and the examples fill_store and static_server, fills a data
directory with N items (benches/fill_store.rs; a third of them in the `ukraine` topic), starts
`tidings run` on it (its feeds point at a port nothing listens on, so polls fail fast and
change nothing), waits for data/public/ukraine.atom, starts benches/static_server.rs on that
directory, and per round runs wrk (64 connections, 2 threads, --latency) for DURATION seconds:

  1. tidings, full 50-entry responses;
  2. tidings, with If-None-Match of the current ETag (304);
  3. the static server, full responses of the same bytes;
  4. the static server, with If-None-Match (304).

Prints medians of requests/s and latency percentiles over the rounds as a Markdown table, and
the daemon's resident memory before and after the load.

With --reuse DIR, the filled data directory is kept in DIR and copied from there by later
runs with the same --items (filling 100,000 items takes minutes on a busy machine).

With --also BINARY (another build of tidings, say the previous commit's), that binary is
started too, on a copy of the data directory, and measured the same way in every round, so a
change can be compared with the code before it under the same load.

Usage: python3 benches/serve_load.py [--items 100000] [--rounds 3] [--duration 10]
                                     [--reuse DIR] [--also BINARY]
Everything stays on 127.0.0.1; wrk stops by itself after --duration.
"""
import argparse
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target" / "release"
TIDINGS_PORT = 18480
STATIC_PORT = 18481
ALSO_PORT = 18482


def build():
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "--bin", "tidings",
         "--example", "fill_store", "--example", "static_server"],
        cwd=ROOT, check=True)


def rss_mib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_http(url, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.headers, response.read()
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{url} never answered")


def to_ms(text):
    value = float(re.match(r"[\d.]+", text).group())
    if text.endswith("us"):
        return value / 1000
    if text.endswith("ms"):
        return value
    if text.endswith("s"):
        return value * 1000
    return value


def wrk(url, duration, headers=()):
    command = ["wrk", "-t2", "-c64", f"-d{duration}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}
    for percent in ("50", "90", "99"):
        match = re.search(rf"^\s+{percent}%\s+(\S+)", output, re.M)
        result[f"p{percent}"] = to_ms(match.group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["errors"] = int(errors.group(1)) if errors else 0
    socket_errors = re.search(r"Socket errors: (.*)", output)
    result["socket_errors"] = socket_errors.group(1) if socket_errors else ""
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--reuse", type=pathlib.Path,
                        help="a folder to fill once and reuse in later runs (filling is slow)")
    parser.add_argument("--also", type=pathlib.Path,
                        help="another tidings binary to measure beside this one")
    arguments = parser.parse_args()
    if arguments.also and not arguments.also.is_file():
        sys.exit(f"--also {arguments.also}: no such binary")
    build()
    load_before = " ".join(pathlib.Path("/proc/loadavg").read_text().split()[:3])
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        shipped = (ROOT / "feeds.toml").read_text()
        topics = shipped[shipped.index("[[topics]]"):]
        feeds = "".join(
            f'[[feeds]]\nurl = "http://127.0.0.1:9/feed-{n}.xml"\n\n' for n in range(arguments.feeds))
        config = work / "feeds.toml"
        config.write_text('[settings]\ninterval = "24h"\nmax_interval = "24h"\n\n' + feeds + topics)
        data = work / "data"
        filled_before = arguments.reuse / "data" if arguments.reuse else None
        if filled_before and (filled_before / "tidings.db").exists():
            shutil.copytree(filled_before, data)
            print(f"reusing {filled_before}", file=sys.stderr)
        else:
            started = time.monotonic()
            filled = subprocess.run(
                [RELEASE / "examples" / "fill_store", data, config, str(arguments.items),
                 str(arguments.feeds)], check=True, capture_output=True, text=True).stdout.strip()
            print(f"filled in {time.monotonic() - started:.1f} s: {filled}", file=sys.stderr)
            if filled_before:
                shutil.copytree(data, filled_before)
        also_data = work / "also-data"
        if arguments.also:
            shutil.copytree(data, also_data)

        def start(binary, directory, port):
            return subprocess.Popen(
                [binary, "run", "--config", config, "--data", directory,
                 "--listen", f"127.0.0.1:{port}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env={**os.environ, "RUST_LOG": "error"})

        daemon = start(RELEASE / "tidings", data, TIDINGS_PORT)
        also = start(arguments.also, also_data, ALSO_PORT) if arguments.also else None
        static = None
        try:
            url = f"http://127.0.0.1:{TIDINGS_PORT}/feeds/ukraine.atom"
            headers, body = wait_http(url)
            public = data / "public"
            deadline = time.monotonic() + 60
            while not (public / "ukraine.atom").exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            static = subprocess.Popen(
                [RELEASE / "examples" / "static_server", public, f"127.0.0.1:{STATIC_PORT}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            static_url = f"http://127.0.0.1:{STATIC_PORT}/ukraine.atom"
            static_headers, static_body = wait_http(static_url)
            entries = body.count(b"<entry>")
            print(f"/feeds/ukraine.atom: {len(body)} bytes, {entries} entries; "
                  f"static copy {len(static_body)} bytes", file=sys.stderr)
            names = ["tidings 200", "tidings 304", "static 200", "static 304"]
            if also:
                also_url = f"http://127.0.0.1:{ALSO_PORT}/feeds/ukraine.atom"
                also_headers, also_body = wait_http(also_url)
                if also_body != body:
                    sys.exit("the --also binary serves other bytes")
                names += ["also 200", "also 304"]
            memory_before = rss_mib(daemon.pid)
            runs = {name: [] for name in names}
            for round_number in range(arguments.rounds):
                runs["tidings 200"].append(wrk(url, arguments.duration))
                runs["tidings 304"].append(
                    wrk(url, arguments.duration, [f"If-None-Match: {headers['ETag']}"]))
                if also:
                    runs["also 200"].append(wrk(also_url, arguments.duration))
                    runs["also 304"].append(
                        wrk(also_url, arguments.duration,
                            [f"If-None-Match: {also_headers['ETag']}"]))
                runs["static 200"].append(wrk(static_url, arguments.duration))
                runs["static 304"].append(
                    wrk(static_url, arguments.duration,
                        [f"If-None-Match: {static_headers['ETag']}"]))
                print(f"round {round_number + 1}: "
                      + ", ".join(f"{name} {r[-1]['rps']:.0f}/s" for name, r in runs.items()),
                      file=sys.stderr)
            memory_after = rss_mib(daemon.pid)
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
            if also:
                also.terminate()
                also.wait(timeout=60)
            if static:
                static.terminate()
                static.wait(timeout=10)
    load = pathlib.Path("/proc/loadavg").read_text().split()[:3]
    print(f"\n{arguments.items} items, {arguments.rounds} rounds of {arguments.duration} s, "
          f"wrk -t2 -c64, medians; load average {load_before} before the run, "
          f"{' '.join(load)} after\n")
    print("| target | requests/s | p50 | p90 | p99 | non-2xx/3xx | ratio to static |")
    print("|---|---|---|---|---|---|---|")
    for name, results in runs.items():
        rps = statistics.median(r["rps"] for r in results)
        baseline = statistics.median(r["rps"] for r in runs["static " + name.split()[1]])
        print(f"| {name} | {rps:,.0f} | "
              + " | ".join(f"{statistics.median(r[p] for r in results):.2f} ms"
                           for p in ("p50", "p90", "p99"))
              + f" | {sum(r['errors'] for r in results)} | {rps / baseline:.2f} |")
    print(f"\ntidings resident memory: {memory_before:.0f} MiB before the load, "
          f"{memory_after:.0f} MiB after")


if __name__ == "__main__":
    main()
