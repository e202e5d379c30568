import { writeFileSync } from 'node:fs';
import { RunbookAutopilotError } from '../functions/core/errors.ts';
import { checkExecutionId } from '../functions/handlers/http.ts';

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
  const base = options.url.endsWith('/') ? options.url : `${options.url}/`;
  let response: Response;
  try {
    response = await fetch(new URL(`api/executions/${encodeURIComponent(executionId)}/report`, base), {
      headers: {
        accept: 'text/markdown',
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      },
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    throw new ReportRefusal(
      `no answer from ${options.url} (${(error as Error).message}): is the platform running (npm start)? Pass its address with --url`,
    );
  }
  const body = await response.text();
  if (response.status === 401) throw new ReportRefusal(`${options.url} needs a token: pass --token`);
  if (!response.ok) {
    let message = body.slice(0, 500);
    try {
      message = String((JSON.parse(body) as { error?: unknown }).error ?? message);
    } catch {
      // not JSON: the text as it came
    }
    throw new ReportRefusal(`${response.status}: ${message}`);
  }
  return body;
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
