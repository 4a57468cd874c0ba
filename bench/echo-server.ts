import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { PublishStreamResponseSchema, SubscribeResponseSchema } from "../gen/ts/consort/v1/signal_pb.js";
import { startServerProcess, type ServerProcess } from "./server-process.js";

/** The echo method's path. */
export const echoPath = "/bench.Echo/Echo";

const passthrough = (b: Buffer) => b;

/** The echo service: bytes in, the same bytes out, no (de)serialization. */
const echoDefinition: grpc.ServiceDefinition = {
  echo: {
    path: echoPath,
    requestStream: false,
    responseStream: false,
    requestSerialize: passthrough,
    requestDeserialize: passthrough,
    responseSerialize: passthrough,
    responseDeserialize: passthrough,
  } as grpc.MethodDefinition<Buffer, Buffer>,
};

const streamMethod = (name: string, requestStream: boolean) =>
  ({
    path: `/consort.v1.SignalService/${name}`,
    requestStream,
    responseStream: true,
    requestSerialize: passthrough,
    requestDeserialize: passthrough,
    responseSerialize: passthrough,
    responseDeserialize: passthrough,
  }) as grpc.MethodDefinition<Buffer, Buffer>;

/**
 * The floor of Consort's signal path: SignalService's Subscribe and PublishStream on grpc-js with none of Consort's
 * work. Each request is answered with a one-signal SubscribeResponse (its sequence, a few ids) written to every
 * subscriber, and its ack; nothing is decoded, validated, stored or batched. The Go client's `signal-stream` mode
 * runs against it unchanged.
 */
const floorDefinition: grpc.ServiceDefinition = { subscribe: streamMethod("Subscribe", false), publishStream: streamMethod("PublishStream", true) };

function floorHandlers(): grpc.UntypedServiceImplementation {
  const subscribers = new Set<grpc.ServerWritableStream<Buffer, Buffer>>();
  let sequence = 0n;
  const bytes = <T extends DescMessage>(schema: T, init: MessageInitShape<T>) => Buffer.from(toBinary(schema, create(schema, init)));
  return {
    subscribe(call: grpc.ServerWritableStream<Buffer, Buffer>) {
      call.write(bytes(SubscribeResponseSchema, { subscribed: { subscriptionId: "floor", epoch: "floor" } }));
      subscribers.add(call);
      call.on("cancelled", () => subscribers.delete(call));
    },
    publishStream(call: grpc.ServerDuplexStream<Buffer, Buffer>) {
      call.on("data", () => {
        sequence++;
        const signal = bytes(SubscribeResponseSchema, { signals: [{ signalId: "floor", coordinationId: "floor", sequence, epoch: "floor" }] });
        for (const s of subscribers) s.write(signal);
        call.write(bytes(PublishStreamResponseSchema, { outcomes: [{ outcome: { case: "ack", value: { signalId: "floor", sequence, epoch: "floor" } } }] }));
      });
      call.on("end", () => call.end());
    },
  };
}

/**
 * A raw grpc-js server in its own process: the floor a Consort call is compared with. It echoes unary calls
 * (bench.Echo/Echo) and relays signals with no Consort logic ({@link floorDefinition}).
 */
export interface EchoProcess {
  readonly port: number;
  readonly child: ChildProcess;
  /** Server CPU time so far in microseconds (user + system), from /proc. */
  cpuMicros(): number;
  stop(): Promise<void>;
}

const thisFile = fileURLToPath(import.meta.url);

/** Starts this file with `--serve` in a child process and waits for its `{"echo listening", port}` line. */
export async function startEchoProcess(): Promise<EchoProcess> {
  const child = spawn(process.execPath, [thisFile, "--serve"], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("echo server did not start in 20 s")), 20_000);
    child.once("exit", (code) => reject(new Error(`echo server exited with ${code}`)));
    lines.on("line", (line) => {
      if (line.includes('"echo listening"')) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
  });
  lines.on("line", () => {});
  return {
    port,
    child,
    cpuMicros: () => processCpuMicros(child.pid!),
    stop() {
      return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      });
    },
  };
}

/** CPU time (user + system) of process `pid` in microseconds, from /proc/<pid>/stat (USER_HZ = 100). */
export function processCpuMicros(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) / 100) * 1e6;
}

/** The child process: same message-size limits as Consort's server, bound to 127.0.0.1 on a free port. */
async function serve(): Promise<void> {
  const max = 4 * 1024 * 1024;
  const server = new grpc.Server({ "grpc.max_receive_message_length": max, "grpc.max_send_message_length": max });
  server.addService(echoDefinition, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, call.request),
  });
  server.addService(floorDefinition, floorHandlers());
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const stop = () => {
    server.forceShutdown();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  process.stdout.write(`${JSON.stringify({ msg: "echo listening", port })}\n`);
}

if (process.argv[1] === thisFile && process.argv.includes("--serve")) await serve();

/**
 * Runs `measure` against a fresh Consort server process and a fresh echo process (the floor it is compared with),
 * and stops both however it ends.
 */
export async function withServerAndEcho<T>(measure: (server: ServerProcess, echo: EchoProcess) => Promise<T>): Promise<T> {
  const server = await startServerProcess();
  const echo = await startEchoProcess().catch(async (e: unknown) => {
    await server.stop();
    throw e;
  });
  try {
    return await measure(server, echo);
  } finally {
    await Promise.all([server.stop(), echo.stop()]);
  }
}
