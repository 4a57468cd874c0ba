import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

/**
 * The contract check CI runs (.ci/run): `buf breaking proto --against .ci/contract-baseline.binpb`. It passes on
 * the contract as it is, and fails on a breaking edit — run on a copy, so the check is shown able to fail.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const buf = join(root, "node_modules/.bin/buf");
const work = mkdtempSync(join(tmpdir(), "consort-breaking-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A copy of the workspace (protos and buf.yaml), with `edit` applied to signal.proto; buf breaking's result. */
function check(name: string, edit: (proto: string) => string) {
  const dir = join(work, name);
  for (const p of ["proto", "third_party", "buf.yaml"]) cpSync(join(root, p), join(dir, p), { recursive: true });
  const file = join(dir, "proto/consort/v1/signal.proto");
  writeFileSync(file, edit(readFileSync(file, "utf8")));
  const r = spawnSync(buf, ["breaking", "proto", "--against", join(root, ".ci/contract-baseline.binpb")], { cwd: dir, encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("the contract check", () => {
  it("passes on the contract as it is", () => {
    expect(check("unchanged", (p) => p)).toMatchObject({ status: 0 });
  });

  it("fails on a deleted field, naming it", () => {
    const r = check("deleted-field", (p) => p.replace("  string idempotency_key = 7;", "  reserved 7;"));
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/Previously present field "7" with name "idempotency_key" on message "PublishRequest" was deleted/);
  });

  it("fails on a changed field type", () => {
    const r = check("changed-type", (p) => p.replace("  uint64 sequence = 3;", "  int32 sequence = 3;"));
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/changed type from "uint64" to "int32"/);
  });

  it("is what CI runs", () => {
    expect(readFileSync(join(root, ".ci/run"), "utf8")).toContain("buf breaking proto --against .ci/contract-baseline.binpb");
    expect(execFileSync("git", ["ls-files", ".ci/contract-baseline.binpb"], { cwd: root, encoding: "utf8" }).trim()).toBe(".ci/contract-baseline.binpb");
  });
});
