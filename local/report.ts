import { writeFileSync } from 'node:fs';
import { RunbookAutopilotError } from '../functions/core/errors.ts';
import { checkExecutionId } from '../functions/handlers/http.ts';
import { ApiRefusal, fetchApiText } from './api-client.ts';

/** `runbook report ID`: the incident report of one execution, from the running platform's API. */

export class ReportRefusal extends RunbookAutopilotError {
  override readonly name = 'ReportRefusal';
}

export interface ReportOptions {
  url: string;
  token?: string;
  /** Write the Markdown to this file instead of printing it. */
  output?: string;
}

/** Fetches the report's Markdown; every refusal names what to do. */
export async function fetchIncidentReport(executionId: string, options: ReportOptions): Promise<string> {
  try {
    checkExecutionId(executionId, 'ID');
  } catch (error) {
    throw new ReportRefusal(`ID: ${(error as Error).message}`);
  }
  try {
    return await fetchApiText(
      options,
      `/api/executions/${encodeURIComponent(executionId)}/report`,
      'text/markdown',
    );
  } catch (error) {
    if (error instanceof ApiRefusal) throw new ReportRefusal(error.message);
    throw error;
  }
}

export async function reportCommand(
  out: (line: string) => void,
  executionId: string,
  options: ReportOptions & { resolvedOutput?: string },
): Promise<number> {
  const markdown = await fetchIncidentReport(executionId, options);
  if (options.resolvedOutput) {
    try {
      writeFileSync(options.resolvedOutput, markdown);
    } catch (error) {
      throw new ReportRefusal(`--output ${options.output}: ${(error as Error).message}`);
    }
    out(`wrote the incident report of ${executionId} to ${options.output}`);
  } else out(markdown.trimEnd());
  return 0;
}
