/**
 * Markdown text from values the platform does not control (alert labels, tool outputs, comments):
 * one line, no HTML, no emphasis, links, code spans or table breaks, bounded in length. Every value
 * an alert or a tool supplied goes through `text` or `cell`; only the report's own words are raw.
 */

/** A value longer than this is cut: a report stays readable, and its size linear in its records. */
export const MAX_VALUE_CHARS = 500;

/**
 * Punctuation that means something inline (emphasis, code, links, strike-through, table cells). Values
 * never start a line here, so block markers (#, -, 1.) need no escape.
 */
const INLINE_SPECIAL = /[\\`*_[\]~|]/g;

/** One line of plain text, safe anywhere inline (table cells included). */
export function text(value: unknown, maxChars = MAX_VALUE_CHARS): string {
  const raw = typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
  const oneLine = raw
    // Line breaks of every kind, and other control characters, would end a table row or a list item.
    .replace(/[\p{Cc}\u2028\u2029]+/gu, ' ')
    .trim();
  const bounded = oneLine.length > maxChars ? `${oneLine.slice(0, maxChars - 1)}…` : oneLine;
  return (
    bounded
      // HTML first as entities (a renderer shows them as the characters), then Markdown punctuation.
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(INLINE_SPECIAL, (character) => `\\${character}`)
  );
}

/** A table cell: escaped text, or an em dash when empty (an empty cell reads as missing data). */
export function cell(value: unknown, maxChars = MAX_VALUE_CHARS): string {
  const escaped = text(value, maxChars);
  return escaped === '' ? '—' : escaped;
}

/** A Markdown table from already escaped cells. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ];
}

/** A duration for people: `850 ms`, `42 s`, `3 min 5 s`, `2 h 10 min`. */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const seconds = Math.round(ms / 1_000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 === 0 ? `${minutes} min` : `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
}

/** An ISO time as `2026-12-06 16:05:09Z` (UTC, to the second): readable, sortable. */
export function when(iso: string | undefined): string {
  if (!iso) return '—';
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return text(iso);
  return new Date(time)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
}
