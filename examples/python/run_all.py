"""Runs the quick start's Complete Example, its three common patterns and a high-rate publisher, each as separate agent
processes talking to one Consort server, and prints every agent's lines prefixed with `[scenario/agent]`.

    python examples/python/run_all.py [--addr 127.0.0.1:50051] [complete|chain|parallel|gate|progress ...]

Each scenario gets a coordination id of its own. Its agents are started together (waiters first, though any order
works) and awaited; the launcher exits non-zero when an agent fails or a scenario outlives SCENARIO_TIMEOUT_S, after
stopping the scenario's other agents.
"""
from __future__ import annotations

import argparse
import pathlib
import queue
import subprocess
import sys
import threading
import time
import uuid

HERE = pathlib.Path(__file__).resolve().parent
SCENARIO_TIMEOUT_S = 60

# name -> (title, script, agents in start order)
SCENARIOS = {
    "complete": ("Complete Example: model_gen -> validator_gen", "complete.py",
                 ["validator_gen", "model_gen", "coordinator"]),
    "chain": ("Pattern 1, signal-driven workflow: model-gen -> validator-gen -> test-gen", "chain.py",
              ["test-gen", "validator-gen", "model-gen"]),
    "parallel": ("Pattern 2, parallel execution: contract_1..3 joined by the coordinator", "parallel.py",
                 ["coordinator", "contract_1", "contract_2", "contract_3"]),
    "gate": ("Pattern 3, quality gate: test-gen waits for coverage_gate >= 0.8", "gate.py", ["test-gen", "coverage"]),
    "progress": ("High-rate publishing: worker streams its progress over PublishStream to monitor", "progress.py",
                 ["monitor", "worker"]),
}

print_lock = threading.Lock()


def emit(line: str) -> None:
    with print_lock:
        print(line, flush=True)


def run_scenario(name: str, addr: str) -> bool:
    title, script, agents = SCENARIOS[name]
    coord = f"{name}-{uuid.uuid4()}"
    emit(f"=== {name}: {title} (coordination {coord})")
    exits: "queue.Queue[tuple[str, int]]" = queue.Queue()
    procs: dict[str, subprocess.Popen] = {}
    followers: list[threading.Thread] = []

    def follow(agent: str, proc: subprocess.Popen) -> None:  # prefixes the agent's output, then reports its exit
        for line in proc.stdout:
            emit(f"[{name}/{agent}] {line.rstrip()}")
        exits.put((agent, proc.wait()))

    for agent in agents:
        proc = subprocess.Popen([sys.executable, "-u", str(HERE / script), agent, "--addr", addr, "--coord", coord],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs[agent] = proc
        followers.append(threading.Thread(target=follow, args=(agent, proc), daemon=True))
        followers[-1].start()

    deadline = time.monotonic() + SCENARIO_TIMEOUT_S
    failed = []
    for _ in agents:
        try:
            agent, code = exits.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            failed.append(f"timed out after {SCENARIO_TIMEOUT_S}s")
            break
        if code != 0:
            failed.append(f"{agent} exited with {code}")
            break
    for proc in procs.values():  # after a failure the others would only wait for their timeouts
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    for follower in followers:  # every line of the scenario is printed before its verdict
        follower.join(timeout=5)
    emit(f"=== {name}: {'FAILED: ' + ', '.join(failed) if failed else 'passed'}")
    return not failed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--addr", default="127.0.0.1:50051", help="Consort's gRPC address")
    parser.add_argument("scenarios", nargs="*", metavar="scenario", help="default: all, in this order: "
                        + " ".join(SCENARIOS))
    args = parser.parse_args()
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    results = [run_scenario(name, args.addr) for name in args.scenarios or SCENARIOS]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
