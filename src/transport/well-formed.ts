import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import type { FieldViolation } from "../core/errors.js";

/**
 * JSON can carry strings that protobuf cannot: a lone surrogate (`"\ud800"`) is valid JSON but has no UTF-8
 * encoding, so a value accepted from a Connect JSON client would reach every binary client as U+FFFD, and Go and
 * Python clients reject invalid UTF-8 outright. Every string of a JSON request is checked here — fields, lists,
 * map keys and values, Struct keys and values, nested messages — so what one port accepts, every client can read
 * back. (Binary requests cannot hold one: their strings are strict UTF-8.)
 */

const rule = "must be valid Unicode: a lone surrogate (\\uD800–\\uDFFF) cannot be encoded as UTF-8";
/** At most this many violations are listed: one error stays readable whatever the request. */
const maxViolations = 20;

type Found = FieldViolation[];

function json(value: unknown, path: string, out: Found): void {
  if (out.length >= maxViolations) return;
  if (typeof value === "string") {
    if (!value.isWellFormed()) out.push({ field: path, description: rule });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => json(v, `${path}[${i}]`, out));
  } else if (typeof value === "object" && value !== null) {
    for (const k of Object.keys(value)) {
      const at = `${path}[${JSON.stringify(k)}]`;
      if (!k.isWellFormed()) out.push({ field: at, description: rule });
      json((value as Record<string, unknown>)[k], at, out);
    }
  }
}

function message(desc: DescMessage, msg: Record<string, unknown>, prefix: string, out: Found): void {
  for (const field of desc.fields) {
    if (out.length >= maxViolations) return;
    const path = prefix === "" ? field.name : `${prefix}.${field.name}`;
    let value: unknown;
    if (field.oneof !== undefined) {
      const o = msg[field.oneof.localName] as { case?: string; value?: unknown } | undefined;
      if (o?.case !== field.localName) continue;
      value = o.value;
    } else value = msg[field.localName];
    if (value === undefined) continue;
    switch (field.fieldKind) {
      case "scalar":
        if (field.scalar === ScalarType.STRING && !(value as string).isWellFormed()) out.push({ field: path, description: rule });
        break;
      case "enum":
        break;
      case "message":
        // google.protobuf.Struct fields are plain JSON objects in protobuf-es; every other message is a message.
        if (field.message.typeName === "google.protobuf.Struct") json(value, path, out);
        else message(field.message, value as Record<string, unknown>, path, out);
        break;
      case "list":
        (value as unknown[]).forEach((v, i) => {
          if (field.listKind === "scalar" && typeof v === "string" && !v.isWellFormed()) out.push({ field: `${path}[${i}]`, description: rule });
          else if (field.listKind === "message") message(field.message, v as Record<string, unknown>, `${path}[${i}]`, out);
        });
        break;
      case "map":
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          const at = `${path}[${JSON.stringify(k)}]`;
          if (!k.isWellFormed()) out.push({ field: at, description: rule });
          if (field.mapKind === "scalar" && typeof v === "string" && !v.isWellFormed()) out.push({ field: at, description: rule });
          else if (field.mapKind === "message") message(field.message, v as Record<string, unknown>, at, out);
        }
        break;
    }
  }
}

/** Every string of `msg` (a message of `desc`) that is not well-formed Unicode, by its field path (at most 20). */
export function illFormedStrings(desc: DescMessage, msg: object): FieldViolation[] {
  const out: Found = [];
  message(desc, msg as Record<string, unknown>, "", out);
  return out;
}
