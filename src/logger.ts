import { pino, type Logger } from "pino";
import type { Config } from "./config.js";

/**
 * The server's root logger: JSON lines on stdout, level from the configuration. Lines are written synchronously:
 * the server logs little (lifecycle, failed calls; per-call lines only at debug), and an asynchronous
 * destination flushes at exit in a loop that never ends once stdout is a closed pipe (sonic-boom 4's flushSync
 * retries EPIPE forever), so a server whose log reader had gone could not stop. A closed stdout only silences
 * the log.
 */
export function createLogger(level: Config["logLevel"]): Logger {
  return pino({ level, base: { service: "consort" } }, pino.destination({ dest: 1, sync: true }));
}
