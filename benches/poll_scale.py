#!/usr/bin/env python3
"""Polling at scale: `tidings poll` against N local feeds, cold then warm, beside a bare download.

Starts ../shared/bench/feedserver.py on loopback addresses 127.0.0.1..127.0.0.H, writes a
feeds.toml with its N feeds and the shipped topics, and for each round:

  1. bare baseline: benches/bare_download.rs (release example) downloads every feed with the
     same client, global concurrency and per-host bound, then downloads them again with the
     validators it got (the server bumps 5 % of the feeds in between, as below);
  2. cold: `tidings poll` on an empty data directory (fetch, parse, match, store everything);
  3. the server gives 5 % of the feeds one new item (/_admin/bump?frac=0.05);
  4. warm: `tidings poll` again (the server answers 304 to the other 95 %).

Then the daemon: `tidings run` on the warm database, idle between polls, and its CPU use over
IDLE_SECONDS. Wall time, CPU time (user + system) and peak memory (max RSS) come from
os.wait4. Prints medians over the rounds as a Markdown table, with ratios to the baseline of
the same run, and the server's peak connections per host.

Usage: python3 benches/poll_scale.py [--feeds 10000] [--items 20] [--rounds 3] [--hosts 8]
Everything stays on 127.0.0.0/8; the server stops by itself after --max-seconds.
"""
import argparse
import json
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = pathlib.Path(os.environ.get("TIDINGS_SHARED_DIR", ROOT.parent / "shared"))
FEEDSERVER = SHARED / "bench" / "feedserver.py"
TIDINGS = ROOT / "target" / "release" / "tidings"
BARE = ROOT / "target" / "release" / "examples" / "bare_download"
CONCURRENCY = 16
PER_HOST = 2
IDLE_SECONDS = 30


def run_measured(command, **kwargs):
    """Runs a command; returns (wall seconds, cpu seconds, max rss MiB, stdout)."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, **kwargs)
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{command[0]} failed with {status}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout.decode()


def admin(port, path):
    # The admin requests go to the host the feeds use too: let the connections of the run
    # before close first, so they are not counted as open beside this one.
    time.sleep(0.5)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_admin/{path}", timeout=30) as response:
        return json.loads(response.read())


def write_config(directory, urls):
    shipped = (ROOT / "feeds.toml").read_text()
    topics = shipped[shipped.index("[[topics]]"):]
    lines = [
        "[settings]",
        f"concurrency = {CONCURRENCY}",
        f"per_host = {PER_HOST}",
        'interval = "15m"',
        "",
    ]
    for url in urls:
        lines += ["[[feeds]]", f'url = "{url}"', ""]
    path = directory / "feeds.toml"
    path.write_text("\n".join(lines) + "\n" + topics)
    return path


def cpu_seconds(pid):
    """User + system CPU seconds of a running process, from /proc."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=10000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--port", type=int, default=18800)
    parser.add_argument("--max-seconds", type=int, default=1800)
    arguments = parser.parse_args()
    if not FEEDSERVER.exists():
        sys.exit(f"missing {FEEDSERVER}: ../shared must sit beside the repository")

    print("building release binaries...", file=sys.stderr)
    subprocess.run(
        ["cargo", "build", "--release", "--bin", "tidings", "--example", "bare_download"],
        cwd=ROOT, check=True,
    )
    work = pathlib.Path(tempfile.mkdtemp(prefix="tidings-bench-"))
    urls_file = work / "urls.txt"
    ready = work / "server.pid"
    server = subprocess.Popen(
        [sys.executable, str(FEEDSERVER), "serve", "--feeds", str(arguments.feeds),
         "--items", str(arguments.items), "--hosts", str(arguments.hosts),
         "--port", str(arguments.port), "--prerender", "1", "--urls-out", str(urls_file),
         "--ready-file", str(ready), "--max-seconds", str(arguments.max_seconds)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while not ready.exists():
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit("the feed server did not start")
            time.sleep(0.2)
        urls = urls_file.read_text().split()
        config = write_config(work, urls)
        port = arguments.port
        results = {key: [] for key in
                   ("bare_cold", "bare_warm", "cold_wall", "cold_cpu", "cold_rss",
                    "warm_wall", "warm_cpu", "warm_rss")}
        peaks = []
        for round_number in range(1, arguments.rounds + 1):
            print(f"round {round_number}...", file=sys.stderr)
            admin(port, "reset")
            _, _, _, bare = run_measured(
                [str(BARE), str(urls_file), str(CONCURRENCY), str(PER_HOST),
                 f"http://127.0.0.1:{port}/_admin/bump?frac=0.05"])
            timings = dict(line.split()[:2] for line in bare.splitlines())
            results["bare_cold"].append(float(timings["cold"]))
            results["bare_warm"].append(float(timings["warm"]))
            data = work / f"data-{round_number}"
            admin(port, "reset")
            wall, cpu, rss, _ = run_measured(
                [str(TIDINGS), "poll", "--config", str(config), "--data", str(data)],
                env={**os.environ, "RUST_LOG": "error"})
            results["cold_wall"].append(wall)
            results["cold_cpu"].append(cpu)
            results["cold_rss"].append(rss)
            peaks.append(("cold", max(admin(port, "stats")["peak_open_by_host"].values())))
            admin(port, "bump?frac=0.05")
            admin(port, "reset")
            wall, cpu, rss, _ = run_measured(
                [str(TIDINGS), "poll", "--config", str(config), "--data", str(data)],
                env={**os.environ, "RUST_LOG": "error"})
            stats = admin(port, "stats")
            results["warm_wall"].append(wall)
            results["warm_cpu"].append(cpu)
            results["warm_rss"].append(rss)
            peaks.append(("warm", max(stats["peak_open_by_host"].values())))
            print(f"  warm: {stats['304']} answered 304, {stats['200']} answered 200", file=sys.stderr)

        print("idle daemon...", file=sys.stderr)
        daemon = subprocess.Popen(
            [str(TIDINGS), "run", "--config", str(config), "--data", str(work / "data-1"),
             "--listen", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": "error"})
        time.sleep(5)
        before = cpu_seconds(daemon.pid)
        time.sleep(IDLE_SECONDS)
        idle_share = (cpu_seconds(daemon.pid) - before) / IDLE_SECONDS * 100
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=30)

    median = {key: statistics.median(values) for key, values in results.items()}
    print(f"\n{arguments.feeds} feeds x {arguments.items} items, {arguments.hosts} hosts, "
          f"concurrency {CONCURRENCY}, {PER_HOST} per host, {arguments.rounds} rounds (medians)\n")
    print("| run | wall | CPU | peak memory | ratio to bare download |")
    print("|---|---|---|---|---|")
    print(f"| bare download, cold | {median['bare_cold']:.2f} s | | | 1 |")
    print(f"| `tidings poll`, cold | {median['cold_wall']:.2f} s | {median['cold_cpu']:.2f} s | "
          f"{median['cold_rss']:.0f} MiB | {median['cold_wall'] / median['bare_cold']:.2f} |")
    print(f"| bare download, warm (validators) | {median['bare_warm']:.2f} s | | | 1 |")
    print(f"| `tidings poll`, warm | {median['warm_wall']:.2f} s | {median['warm_cpu']:.2f} s | "
          f"{median['warm_rss']:.0f} MiB | {median['warm_wall'] / median['bare_warm']:.2f} |")
    print(f"\npeak connections to one host during `tidings poll`: "
          f"{max(peak for _, peak in peaks)} (bound {PER_HOST}); per run: {peaks}")
    print(f"idle daemon with {arguments.feeds} feeds: {idle_share:.2f} % of one core over {IDLE_SECONDS} s")
    print("\nall rounds:", json.dumps({key: [round(value, 3) for value in values] for key, values in results.items()}))


if __name__ == "__main__":
    main()
