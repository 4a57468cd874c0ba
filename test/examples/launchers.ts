import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The launcher of each language's examples, as the README's quick start gives it (run from the repository root).
 * The test appends `--addr HOST:PORT`. `python3` is the repository's .venv, which holds the generated client. */
export const launchers = [
  { language: "python", command: "python3 examples/python/run_all.py" },
  { language: "go", command: "go -C examples/go run ." },
  { language: "typescript", command: "node dist/examples/ts/main.js" },
] as const;

/** The environment launchers run in: the .venv first on PATH, as an activated virtualenv would have it. */
export const launcherEnv = (): NodeJS.ProcessEnv => ({ ...process.env, PATH: `${join(root, ".venv/bin")}:${process.env["PATH"] ?? ""}` });
