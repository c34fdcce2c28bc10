#!/usr/bin/env python3
"""Soak: does the database stop growing? `tidings run` against rotating local feeds.

Starts ../shared/bench/feedserver.py with N feeds whose documents each gain one item every
ROTATE seconds (the oldest falls out of the document), and runs `tidings run` on them twice,
one after the other, for SECONDS each:

  - baseline: retention 90d (the default): nothing is pruned, the file grows with every item;
  - retention: `retention = RETENTION`: items older than that which their feed no longer
    lists are pruned, and freed pages go back to the file system.

Every SAMPLE seconds it records the size of tidings.db plus its WAL and the number of stored
items, and prints a Markdown table of both runs side by side, with the ratio of the retention
run's size to the baseline's. The retention run should level off near
feeds x (items listed + items per feed within RETENTION), the baseline should not.

Usage: python3 benches/soak.py [--feeds 200] [--items 20] [--rotate 1] [--retention 20s]
                               [--seconds 120] [--sample 10] [--binary target/debug/tidings]
Everything stays on 127.0.0.1; the server stops by itself after its --max-seconds.
"""
import argparse
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = pathlib.Path(os.environ.get("TIDINGS_SHARED_DIR", ROOT.parent / "shared"))
FEEDSERVER = SHARED / "bench" / "feedserver.py"


def db_size(data):
    total = 0
    for name in ("tidings.db", "tidings.db-wal"):
        path = data / name
        if path.exists():
            total += path.stat().st_size
    return total


def item_count(data):
    try:
        connection = sqlite3.connect(f"file:{data / 'tidings.db'}?mode=ro", uri=True, timeout=10)
        try:
            return connection.execute("SELECT count(*) FROM items").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error:
        return -1


def soak(binary, urls, work, retention, seconds, sample):
    config = work / f"feeds-{retention}.toml"
    data = work / f"data-{retention}"
    lines = [
        "[settings]",
        'interval = "2s"',
        'min_interval = "1s"',
        f'retention = "{retention}"',
        "concurrency = 16",
        "per_host = 4",
        "",
    ]
    for url in urls:
        lines += ["[[feeds]]", f'url = "{url}"', ""]
    config.write_text("\n".join(lines))
    daemon = subprocess.Popen(
        [str(binary), "run", "--config", str(config), "--data", str(data),
         "--listen", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "RUST_LOG": "warn"})
    samples = []
    started = time.monotonic()
    try:
        for tick in range(1, seconds // sample + 1):
            time.sleep(max(0.0, started + tick * sample - time.monotonic()))
            if daemon.poll() is not None:
                sys.exit(f"tidings exited with {daemon.returncode}")
            samples.append((tick * sample, db_size(data), item_count(data)))
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
    return samples


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--rotate", type=float, default=1.0)
    parser.add_argument("--retention", default="20s")
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--sample", type=int, default=10)
    parser.add_argument("--port", type=int, default=18931)
    parser.add_argument("--binary", default=str(ROOT / "target" / "debug" / "tidings"))
    arguments = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="tidings-soak-"))
    urls_file = work / "urls.txt"
    ready = work / "server.pid"
    server = subprocess.Popen(
        [sys.executable, str(FEEDSERVER), "serve", "--feeds", str(arguments.feeds),
         "--items", str(arguments.items), "--rotate-every", str(arguments.rotate),
         "--port", str(arguments.port), "--urls-out", str(urls_file),
         "--ready-file", str(ready), "--max-seconds", str(2 * arguments.seconds + 120)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not ready.exists():
            if server.poll() is not None:
                sys.exit("feedserver did not start")
            time.sleep(0.1)
        urls = urls_file.read_text().split()
        baseline = soak(arguments.binary, urls, work, "90d", arguments.seconds, arguments.sample)
        pruned = soak(arguments.binary, urls, work, arguments.retention, arguments.seconds,
                      arguments.sample)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    print(f"{arguments.feeds} feeds x {arguments.items} items, one new item per feed every "
          f"{arguments.rotate:g} s, polled every 2 s; retention {arguments.retention}\n")
    print("| time | baseline (90d): size | items | retention: size | items | size ratio |")
    print("|---:|---:|---:|---:|---:|---:|")
    for (second, base_size, base_items), (_, size, items) in zip(baseline, pruned):
        ratio = size / base_size if base_size else float("nan")
        print(f"| {second} s | {base_size / 1048576:.2f} MiB | {base_items} | "
              f"{size / 1048576:.2f} MiB | {items} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
