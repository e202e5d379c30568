import type { EngineEvent } from '../functions/adapters/local/local-engine.ts';
import type { Notification } from '../functions/core/records.ts';

/** Progress as it happens, one line per event, for a person watching the terminal. */

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
const dim = (text: string) => paint(2, text);
const green = (text: string) => paint(32, text);
const red = (text: string) => paint(31, text);
const yellow = (text: string) => paint(33, text);
const bold = (text: string) => paint(1, text);

/** Longest line the terminal gets: long enough for an approval link, short of a 300 KB label value. */
export const TERMINAL_LINE_MAX = 1_000;

/** A line cut to TERMINAL_LINE_MAX characters with a marker saying how much is left out. */
export function terminalLine(line: string, max: number = TERMINAL_LINE_MAX): string {
  if (line.length <= max) return line;
  // Never split a surrogate pair; close any colour the cut left open.
  let end = max;
  if (/[\uD800-\uDBFF]/.test(line[end - 1] ?? '')) end--;
  return `${line.slice(0, end)}${color ? '\u001b[0m' : ''}…[${line.length - end} more characters]`;
}

function time(at: number): string {
  return new Date(at).toISOString().slice(11, 19);
}

function shortId(executionId: string): string {
  return executionId.length > 36 ? `${executionId.slice(0, 24)}…${executionId.slice(-8)}` : executionId;
}

/** Structural states (Checkpoint:, Branch:, …) are shown dimmed; steps stand out. */
function isStep(state: string): boolean {
  return /^[a-z][a-z0-9-]*$/.test(state);
}

/**
 * Keeps what a line needs from earlier events: a state that failed and was caught exits without a ✓;
 * a runbook.wait step (its Task, a Wait state, `Waited: <step>`) shows as one step that waits.
 */
export class ProgressPrinter {
  private readonly failed = new Set<string>();
  private readonly waitStarted = new Map<string, number>();

  /** `isWait(runbookId, state)`: the state is a runbook.wait step's Task, followed by a Wait state. */
  constructor(private readonly isWait: (runbookId: string, state: string) => boolean = () => false) {}

  line(event: EngineEvent): string | undefined {
    const key = `${event.executionId}\u0000${'state' in event ? event.state : ''}`;
    if ('state' in event && 'runbookId' in event && this.isWait(event.runbookId, event.state)) {
      const prefix = `${dim(time(event.at))}  ${dim(shortId(event.executionId))}`;
      if (event.type === 'state-entered') this.waitStarted.set(key, event.at);
      if (event.type === 'state-exited' && !this.failed.has(key))
        return `${prefix}  ${yellow('⏳')} ${event.state}: waiting (a Wait state: nothing runs meanwhile)`;
    }
    if (event.type === 'state-exited' && event.state.startsWith('Waited: ') && !this.failed.has(key)) {
      const step = event.state.slice('Waited: '.length);
      const startKey = `${event.executionId}\u0000${step}`;
      const started = this.waitStarted.get(startKey);
      this.waitStarted.delete(startKey);
      const prefix = `${dim(time(event.at))}  ${dim(shortId(event.executionId))}`;
      return `${prefix}  ${green('✓')} ${step}${started === undefined ? '' : dim(` ${((event.at - started) / 1000).toFixed(1)}s`)}`;
    }
    if (event.type === 'state-entered') this.failed.delete(key);
    if (event.type === 'state-failed') this.failed.add(key);
    if (event.type === 'state-exited' && this.failed.has(key)) {
      this.failed.delete(key);
      return undefined;
    }
    if (event.type === 'execution-finished') {
      for (const entry of this.failed)
        if (entry.startsWith(`${event.executionId}\u0000`)) this.failed.delete(entry);
    }
    return engineEventLine(event);
  }
}

export function engineEventLine(event: EngineEvent): string | undefined {
  const prefix = `${dim(time(event.at))}  ${dim(shortId(event.executionId))}`;
  switch (event.type) {
    case 'state-entered':
      if (isStep(event.state)) return `${prefix}  ▶ ${event.state}`;
      if (event.state.startsWith('Approval: '))
        return `${prefix}  ${yellow(`⏸ ${event.state}: waiting for a decision`)}`;
      if (event.state.startsWith('Compensate: '))
        return `${prefix}  ${yellow(`↩ ${event.state.slice('Compensate: '.length)}: undoing`)}`;
      return event.topLevel && /^(Escalate|Verify)/.test(event.state)
        ? `${prefix}  ${dim(`· ${event.state}`)}`
        : undefined;
    case 'state-exited':
      if (!isStep(event.state)) return undefined;
      return `${prefix}  ${green('✓')} ${event.state}${event.durationMs === undefined ? '' : dim(` ${(event.durationMs / 1000).toFixed(1)}s`)}`;
    case 'state-failed':
      if (
        !isStep(event.state) &&
        !event.state.startsWith('Compensate: ') &&
        !event.state.startsWith('Approval: ') &&
        !event.state.startsWith('Waited: ')
      )
        return undefined;
      return `${prefix}  ${red('✗')} ${event.state}: ${event.error}${event.cause ? dim(` — ${event.cause.slice(0, 160)}`) : ''}`;
    case 'state-retried':
      return `${prefix}  ${yellow('↻')} ${event.state}: retry ${event.attempt}`;
    case 'execution-finished': {
      const text = `${event.runbookId} ${event.status.toLowerCase()}${event.error ? ` (${event.error})` : ''}`;
      return `${prefix}  ${bold(event.status === 'SUCCEEDED' ? green(`■ ${text}`) : red(`■ ${text}`))}`;
    }
  }
}

export function notificationLines(notification: Notification): string[] {
  const head = `${dim(time(Date.parse(notification.sentAt)))}  ${notification.kind === 'approval-request' ? yellow('✉ approval needed') : notification.kind === 'escalation' ? red(`✉ escalation [${notification.severity ?? 'page'}]`) : dim(`✉ ${notification.kind}`)}  to ${notification.to.join(', ')}: ${notification.subject}`;
  return [head, ...notification.links.map((link) => `           ${link.label}: ${bold(link.url)}`)];
}
