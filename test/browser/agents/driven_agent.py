"""An agent the dashboard test drives: one process, commands as JSON lines on stdin, one JSON line per answer.

    python driven_agent.py --addr HOST:PORT --coord ID --agent ID

Commands (each with an `id` the answer repeats):
  {"op": "publish", "type": "agent_initialized", "data": {...}}  -> {"ok": true, "sequence": "3"}
  {"op": "complete"}                                              -> publishes agent_completed (success)
  {"op": "distribute", "agents": ["a", "b"]}                      -> DistributeContext, one assignment each
  {"op": "wait", "dependency": "d1", "on": "agent-b"}             -> ResolveDependencies, answered when it ends:
                                                                     {"ok": true, "success": .., "status": .., "message": ..}
Calls made while the server restarts (UNAVAILABLE) are retried for up to 30 s; a publish is retried with one
idempotency key, so it is applied once per server log.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time

import grpc
from google.protobuf import duration_pb2, struct_pb2

from consort.v1 import context_pb2 as ctx_pb
from consort.v1 import context_pb2_grpc as ctx_rpc
from consort.v1 import dependency_pb2 as dep_pb
from consort.v1 import dependency_pb2_grpc as dep_rpc
from consort.v1 import signal_pb2 as sig_pb
from consort.v1 import signal_pb2_grpc as sig_rpc

RETRY_FOR_S = 30
TYPES = {"agent_initialized": sig_pb.SIGNAL_TYPE_AGENT_INITIALIZED, "agent_completed": sig_pb.SIGNAL_TYPE_AGENT_COMPLETED,
         "inter_agent_message": sig_pb.SIGNAL_TYPE_INTER_AGENT_MESSAGE, "stage_completed": sig_pb.SIGNAL_TYPE_STAGE_COMPLETED}
STATUS = {v: k for k, v in {"pending": dep_pb.DEPENDENCY_STATUS_PENDING, "in_progress": dep_pb.DEPENDENCY_STATUS_IN_PROGRESS,
                           "resolved": dep_pb.DEPENDENCY_STATUS_RESOLVED, "failed": dep_pb.DEPENDENCY_STATUS_FAILED,
                           "timeout": dep_pb.DEPENDENCY_STATUS_TIMEOUT}.items()}
out_lock = threading.Lock()


def answer(obj: dict) -> None:
    with out_lock:
        print(json.dumps(obj), flush=True)


def retrying(call):
    """Calls `call()` until it does not fail UNAVAILABLE, for up to RETRY_FOR_S."""
    deadline = time.monotonic() + RETRY_FOR_S
    while True:
        try:
            return call()
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--addr", required=True)
    p.add_argument("--coord", required=True)
    p.add_argument("--agent", required=True)
    args = p.parse_args()
    channel = grpc.insecure_channel(args.addr)
    signals = sig_rpc.SignalServiceStub(channel)
    contexts = ctx_rpc.ContextServiceStub(channel)
    deps = dep_rpc.DependencyServiceStub(channel)

    def publish(cmd_id, type_name: str, data: dict) -> dict:
        s = struct_pb2.Struct()
        s.update(data)
        req = sig_pb.PublishRequest(coordination_id=args.coord, type=TYPES[type_name], sender_agent_id=args.agent,
                                    data=s, idempotency_key=f"{args.agent}-{cmd_id}")
        res = retrying(lambda: signals.Publish(req, timeout=10))
        return {"sequence": str(res.signal.sequence)}

    def wait(cmd: dict) -> None:
        dep = dep_pb.Dependency(dependency_id=cmd["dependency"], timeout=duration_pb2.Duration(seconds=cmd.get("timeout_s", 60)),
                                agent_completion=dep_pb.AgentCompletionTarget(agent_id=cmd["on"]))
        req = dep_pb.ResolveDependenciesRequest(coordination_id=args.coord, agent_id=args.agent, dependencies=[dep])
        try:
            res = retrying(lambda: deps.ResolveDependencies(req, timeout=cmd.get("timeout_s", 60) + 5))
            r = res.results[0]
            answer({"id": cmd["id"], "ok": True, "success": res.success, "status": STATUS.get(r.status, "?"), "message": r.message})
        except grpc.RpcError as e:
            answer({"id": cmd["id"], "ok": False, "error": f"{e.code().name}: {e.details()}"})

    answer({"ready": True, "agent": args.agent})
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        try:
            op = cmd["op"]
            if op == "publish":
                answer({"id": cmd["id"], "ok": True, **publish(cmd["id"], cmd["type"], cmd.get("data", {}))})
            elif op == "complete":
                answer({"id": cmd["id"], "ok": True, **publish(cmd["id"], "agent_completed", {"agent_id": args.agent, "success": True})})
            elif op == "distribute":
                req = ctx_pb.DistributeContextRequest(
                    coordination_id=args.coord, session_id=f"{args.coord}-session",
                    assignments=[ctx_pb.AgentAssignment(agent_id=a, agent_role=a, objective=f"{a}'s part of the run", tasks=["work"])
                                 for a in cmd["agents"]])
                res = retrying(lambda: contexts.DistributeContext(req, timeout=10))
                answer({"id": cmd["id"], "ok": True, "revision": str(res.revision)})
            elif op == "wait":
                threading.Thread(target=wait, args=(cmd,), daemon=True).start()
            else:
                answer({"id": cmd["id"], "ok": False, "error": f"unknown op {op}"})
        except grpc.RpcError as e:
            answer({"id": cmd.get("id"), "ok": False, "error": f"{e.code().name}: {e.details()}"})


if __name__ == "__main__":
    main()
