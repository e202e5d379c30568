import * as z from 'zod';
import { Runbook } from './model.ts';

/** JSON Schema of a runbook file, for editors (yaml-language-server) — generated from the zod model. */
export function runbookJsonSchema(toolNames: readonly string[] = []): Record<string, unknown> {
  const schema = z.toJSONSchema(Runbook, {
    io: 'input',
    target: 'draft-7',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  if (toolNames.length > 0) offerToolNames(schema, toolNames);
  return {
    ...schema,
    $id: 'https://runbook-autopilot.dev/schemas/runbook.json',
    title: 'runbook-autopilot runbook',
    description:
      'A runbook: applicability rules, prerequisite checks, phases of steps, branches, approvals, rollback, escalation, safety limits and success metrics. Generated from functions/core/runbook/model.ts by `npm run compile`; do not edit.',
  };
}

/** Every `tool` property gets the registered names, so editors complete them and flag typos. */
function offerToolNames(node: unknown, toolNames: readonly string[]): void {
  if (Array.isArray(node)) {
    for (const item of node) offerToolNames(item, toolNames);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const properties = (node as { properties?: Record<string, Record<string, unknown>> }).properties;
  if (properties?.tool && properties.tool.type === 'string') properties.tool.enum = [...toolNames];
  for (const value of Object.values(node)) offerToolNames(value, toolNames);
}

/** The committed file's text: deterministic, newline-terminated. */
export function runbookJsonSchemaText(toolNames: readonly string[] = []): string {
  return `${JSON.stringify(runbookJsonSchema(toolNames), null, 2)}\n`;
}
