import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The layers of DESIGN.md §1, checked on the imports of every source file: the core knows no transport, logger
 * or generated code; services and transports meet only in src/binding/, which imports neither; backends
 * (src/backend/) sit below the services and transports, and the core knows none of them.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

/** Every module a file imports: package names as written, relative paths resolved from the repository root. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/g)].map((m) => {
    const spec = m[1] as string;
    return spec.startsWith(".") ? relative(root, resolve(dirname(file), spec)) : spec;
  });
}

const layer = (dir: string) => files(join(src, dir)).map((f) => ({ file: relative(root, f), imports: importsOf(f) }));
const offending = (dir: string, forbidden: (spec: string) => boolean) =>
  layer(dir).flatMap(({ file, imports }) => imports.filter(forbidden).map((spec) => `${file} imports ${spec}`));

describe("layers", () => {
  it("the core imports nothing but itself and Node's non-network modules", () => {
    expect(offending("core", (s) => !s.startsWith("src/core/") && !/^node:(crypto|perf_hooks|util)$/.test(s))).toEqual([]);
  });

  it("services do not import transports, transports do not import services", () => {
    expect(offending("service", (s) => s.startsWith("src/transport/"))).toEqual([]);
    expect(offending("transport", (s) => s.startsWith("src/service/"))).toEqual([]);
  });

  it("the core does not import backends, backends import neither services nor transports", () => {
    expect(offending("core", (s) => s.startsWith("src/backend/"))).toEqual([]);
    expect(offending("backend", (s) => s.startsWith("src/service/") || s.startsWith("src/transport/"))).toEqual([]);
  });

  it("the binding module both meet in imports neither", () => {
    expect(offending("binding", (s) => s.startsWith("src/service/") || s.startsWith("src/transport/") || s.startsWith("gen/"))).toEqual([]);
  });

  it("finds the imports it checks", () => {
    expect(importsOf(join(src, "app.ts"))).toContain("src/transport/grpc.js");
  });
});
