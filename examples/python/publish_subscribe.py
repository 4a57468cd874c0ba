"""Consort from Python: subscribe to a coordination, publish an agent_completed signal, print what arrives.

    pip install ./gen/python
    python examples/python/publish_subscribe.py [host] [port]      # default localhost 50051
"""
import queue
import sys
import threading
import uuid

import grpc
from google.protobuf import struct_pb2

from consort.v1 import signal_pb2 as pb
from consort.v1 import signal_pb2_grpc

host = sys.argv[1] if len(sys.argv) > 1 else "localhost"
port = sys.argv[2] if len(sys.argv) > 2 else "50051"
stub = signal_pb2_grpc.SignalServiceStub(grpc.insecure_channel(f"{host}:{port}"))
coordination_id = f"example-{uuid.uuid4()}"

# Subscribe in a thread: after_sequence=0 replays the whole history, then continues live.
request = pb.SubscribeRequest(coordination_id=coordination_id, agent_id="observer", after_sequence=0)
stream = stub.Subscribe(request, timeout=30)
responses = queue.Queue()


def read():
    try:
        for response in stream:
            responses.put(response)
    except grpc.RpcError:  # cancelled below, or the server went away
        pass


threading.Thread(target=read, daemon=True).start()

first = responses.get(timeout=10)  # always `subscribed`: from now on nothing published is missed
print("subscribed:", first.subscribed.subscription_id, "head", first.subscribed.head_sequence)

data = struct_pb2.Struct()
data.update({"agent_id": "model-generator", "success": True})
reply = stub.Publish(pb.PublishRequest(coordination_id=coordination_id, type=pb.SIGNAL_TYPE_AGENT_COMPLETED,
                                       sender_agent_id="model-generator", data=data), timeout=5)
print("published: sequence", reply.signal.sequence)

for signal in responses.get(timeout=10).signals:  # a batch of one or more signals, in sequence order
    print(f"received: #{signal.sequence} {pb.SignalType.Name(signal.type)} from {signal.sender_agent_id}",
          dict(signal.data))
stream.cancel()
