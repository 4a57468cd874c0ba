// A high-rate publisher as two processes: worker streams STEPS progress signals (inter_agent_message, data.step
// counting from 1) over its Publisher, then announces agent_completed with one unary Publish; monitor follows the
// worker's signals and checks that every step arrives, in order, before the completion.
import { SignalType, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { CALL_TIMEOUT_MS, PUBLISH_WINDOW, WAIT_TIMEOUT_S, type Agent } from "./agent.js";
import type { Scenario } from "./scenario.js";

const STEPS = 500;

async function worker(a: Agent): Promise<void> {
  a.say(`Streaming ${STEPS} progress signals over PublishStream (at most ${PUBLISH_WINDOW} unacknowledged)...`);
  const publisher = a.openPublisher();
  try {
    for (let step = 1; step <= STEPS; step++) await publisher.publish(SignalType.INTER_AGENT_MESSAGE, { step, total: STEPS });
  } catch (e) {
    await publisher.close().catch(() => {}); // the stream still ends cleanly; `e` is the failure to report
    throw e;
  }
  const last = await publisher.close();
  a.say(`${STEPS} progress signals acknowledged, the last at sequence ${last?.sequence}`);
  // A one-off signal: unary Publish.
  await a.publish(SignalType.AGENT_COMPLETED, { agent_id: a.id, steps: STEPS, success: true });
  a.say("worker completed");
}

/** Subscribes from afterSequence 0, so the steps published before it registered are replayed first. */
async function monitor(a: Agent): Promise<void> {
  const stop = new AbortController(); // ends the subscription
  let steps: number;
  try {
    steps = await countSteps(a, a.signals.subscribe(
      { coordinationId: a.coord, agentId: a.id, types: [SignalType.INTER_AGENT_MESSAGE, SignalType.AGENT_COMPLETED],
        senderAgentIds: ["worker"], afterSequence: 0n },
      { signal: AbortSignal.any([stop.signal, AbortSignal.timeout(WAIT_TIMEOUT_S * 1000)]) },
    ));
  } finally {
    stop.abort();
  }
  a.say(`Received ${steps} progress signals in order, then worker's completion`);
  await a.signals.clearSignals({ coordinationId: a.coord }, { timeoutMs: CALL_TIMEOUT_MS });
  a.say("Cleanup: signals cleared");
}

/** The number of progress steps received before the worker's completion; fails on a step out of order. */
async function countSteps(a: Agent, messages: AsyncIterable<SubscribeResponse>): Promise<number> {
  let steps = 0;
  for await (const message of messages) {
    if (message.subscribed) a.say("Subscribed, following worker's progress");
    for (const signal of message.signals) {
      if (signal.type === SignalType.AGENT_COMPLETED) {
        const total = Number(signal.data?.["steps"]);
        if (total !== steps) throw new Error(`worker completed after ${total} steps, ${steps} received`);
        return steps;
      }
      const step = Number(signal.data?.["step"]);
      if (step !== steps + 1) throw new Error(`progress step ${step} after step ${steps} (sequence ${signal.sequence})`);
      steps++;
    }
  }
  throw new Error("Subscribe ended before worker completed");
}

export const progressReport: Scenario = {
  name: "progress",
  title: "High-rate publishing: worker streams its progress over PublishStream to monitor",
  agents: ["monitor", "worker"],
  roles: { worker, monitor },
};
