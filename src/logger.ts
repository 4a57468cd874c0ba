import { pino, type Logger } from "pino";
import type { Config } from "./config.js";

/** The server's root logger: JSON lines on stdout, level from the configuration. */
export function createLogger(level: Config["logLevel"]): Logger {
  return pino({ level, base: { service: "consort" } });
}
