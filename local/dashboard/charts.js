// The Learning page's charts, drawn as SVG from GET /api/learning's per-runbook `timeline`: no chart
// server, no library. Every value reaches the page as text (textContent), each chart has a <title> and a
// <desc>, each point a <title> shown on hover, and a table under it holds the same numbers as text (a
// chart is one image to assistive technology: its points are not focusable, the table is what they read).

const SVG = 'http://www.w3.org/2000/svg';
const DAY_MS = 86_400_000;
const LEVELS = ['observe', 'shadow', 'approve', 'autonomous'];
const WIDTH = 640;
const HEIGHT = 220;
const MARGIN = { top: 16, right: 16, bottom: 44, left: 80 };

let chartCount = 0;

/** An SVG element; attributes as given, children appended (strings become text nodes). */
function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes))
    if (value !== undefined && value !== null) element.setAttribute(name, String(value));
  for (const child of children.flat())
    if (child !== undefined && child !== null && child !== false)
      element.append(child instanceof Node ? child : String(child));
  return element;
}

function html(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes))
    if (value !== undefined && value !== null) element.setAttribute(name, String(value));
  for (const child of children.flat())
    if (child !== undefined && child !== null && child !== false)
      element.append(child instanceof Node ? child : String(child));
  return element;
}

function percent(rate) {
  return `${Math.round(rate * 1000) / 10}%`;
}

function duration(ms) {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** Round tops for a duration axis: seconds, minutes, hours. */
const DURATION_TOPS = [
  1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1_200, 1_800, 3_600, 7_200, 14_400, 28_800, 86_400,
].map((seconds) => seconds * 1_000);

/** The smallest round duration at or above `ms` (a multiple of a day beyond the list). */
function durationCeiling(ms) {
  const found = DURATION_TOPS.find((top) => top >= ms);
  return found ?? Math.ceil(ms / 86_400_000) * 86_400_000;
}

/** An accessible chart frame: role img, labelled by its <title> and described by its <desc>. */
function frame(kind, title, description, height = HEIGHT) {
  const id = `chart-${++chartCount}`;
  return svg(
    'svg',
    {
      class: 'chart',
      'data-chart': kind,
      viewBox: `0 0 ${WIDTH} ${height}`,
      role: 'img',
      'aria-labelledby': `${id}-title ${id}-desc`,
      preserveAspectRatio: 'xMinYMin meet',
    },
    svg('title', { id: `${id}-title` }, title),
    svg('desc', { id: `${id}-desc` }, description),
  );
}

/** A linear time axis from the first day with runs to the end of the span, days at their noon. */
function timeScale(timeline) {
  const start = Date.parse(timeline.levels[0]?.at ?? `${timeline.days[0].day}T00:00:00.000Z`);
  const lastDay = Date.parse(`${timeline.days.at(-1).day}T00:00:00.000Z`) + DAY_MS;
  const end = Math.max(lastDay, timeline.levels.length ? Date.parse(timeline.levels.at(-1).at) : lastDay);
  const plot = WIDTH - MARGIN.left - MARGIN.right;
  return {
    start,
    end,
    x: (ms) => MARGIN.left + ((ms - start) / (end - start)) * plot,
    noon: (day) => Date.parse(`${day}T12:00:00.000Z`),
  };
}

/** The x axis: a line, ticks at day starts (thinned to about 8 labels), and its label. */
function timeAxis(chart, scale, height) {
  const bottom = height - MARGIN.bottom;
  const axis = svg('g', { class: 'axis axis-x' });
  axis.append(svg('line', { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: bottom, y2: bottom }));
  const days = Math.round((scale.end - scale.start) / DAY_MS);
  const every = Math.max(1, Math.ceil(days / 8));
  for (let index = 0; index <= days; index += every) {
    const at = scale.start + index * DAY_MS;
    const x = scale.x(at);
    axis.append(svg('line', { x1: x, x2: x, y1: bottom, y2: bottom + 4 }));
    axis.append(
      svg('text', { x, y: bottom + 16, 'text-anchor': 'middle' }, new Date(at).toISOString().slice(5, 10)),
    );
  }
  axis.append(
    svg(
      'text',
      {
        class: 'axis-label',
        x: (MARGIN.left + WIDTH - MARGIN.right) / 2,
        y: height - 6,
        'text-anchor': 'middle',
      },
      'day (UTC)',
    ),
  );
  chart.append(axis);
}

/** The y axis with gridlines at the given ticks and its label, rotated. */
function valueAxis(chart, ticks, y, format, label, height) {
  const axis = svg('g', { class: 'axis axis-y' });
  axis.append(svg('line', { x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: height - MARGIN.bottom }));
  for (const tick of ticks) {
    const at = y(tick);
    axis.append(svg('line', { class: 'grid', x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: at, y2: at }));
    axis.append(svg('text', { x: MARGIN.left - 6, y: at + 4, 'text-anchor': 'end' }, format(tick)));
  }
  const middle = (MARGIN.top + height - MARGIN.bottom) / 2;
  axis.append(
    svg(
      'text',
      {
        class: 'axis-label',
        x: 14,
        y: middle,
        'text-anchor': 'middle',
        transform: `rotate(-90 14 ${middle})`,
      },
      label,
    ),
  );
  chart.append(axis);
}

/** A line through the points (unless drawn otherwise) with a marker per point carrying its value and a hover title. */
function series(chart, points, className, { line = true } = {}) {
  if (line && points.length > 1)
    chart.append(
      svg('polyline', {
        class: `line ${className}`,
        points: points.map((point) => `${point.x.toFixed(2)},${point.y.toFixed(2)}`).join(' '),
      }),
    );
  const markers = svg('g', { class: `points ${className}` });
  for (const point of points)
    markers.append(
      svg(
        'circle',
        {
          class: 'point',
          cx: point.x.toFixed(2),
          cy: point.y.toFixed(2),
          r: 4,
          'data-day': point.day,
          'data-value': point.value,
        },
        svg('title', {}, point.label),
      ),
    );
  chart.append(markers);
}

/** Success rate per day, 0–100 %. */
export function successRateChart(runbookId, timeline) {
  const scale = timeScale(timeline);
  const y = (rate) => MARGIN.top + (1 - rate) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  const chart = frame(
    'success-rate',
    `${runbookId}: success rate per day`,
    `Share of the day's runs that succeeded, ${timeline.days.length} day(s) from ${timeline.days[0].day} to ${timeline.days.at(-1).day}.`,
  );
  valueAxis(chart, [0, 0.25, 0.5, 0.75, 1], y, percent, 'success rate', HEIGHT);
  timeAxis(chart, scale, HEIGHT);
  series(
    chart,
    timeline.days.map((day) => ({
      x: scale.x(scale.noon(day.day)),
      y: y(day.successRate),
      day: day.day,
      value: day.successRate,
      label: `${day.day}: ${percent(day.successRate)} (${day.succeeded} of ${day.runs} succeeded)`,
    })),
    'success',
  );
  return chart;
}

/** Mean time to recover per day, over the days where a run recovered. */
export function timeToMitigateChart(runbookId, timeline) {
  const days = timeline.days.filter((day) => day.meanTimeToRecoverMs !== undefined);
  const scale = timeScale(timeline);
  const top = durationCeiling(Math.max(...days.map((day) => day.meanTimeToRecoverMs), 1));
  const y = (ms) => MARGIN.top + (1 - ms / top) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  const chart = frame(
    'time-to-mitigate',
    `${runbookId}: time to mitigate per day`,
    days.length
      ? `Mean time from the alert's start to a verified recovery, per day, over ${days.length} day(s) with a recovered run.`
      : 'No run has recovered yet.',
  );
  valueAxis(chart, [0, top / 4, top / 2, (3 * top) / 4, top], y, duration, 'mean time to recover', HEIGHT);
  timeAxis(chart, scale, HEIGHT);
  series(
    chart,
    days.map((day) => ({
      x: scale.x(scale.noon(day.day)),
      y: y(day.meanTimeToRecoverMs),
      day: day.day,
      value: day.meanTimeToRecoverMs,
      label: `${day.day}: ${duration(day.meanTimeToRecoverMs)} mean over ${day.recovered} recovered run(s)`,
    })),
    'mttr',
  );
  return chart;
}

/** The automation level as a step line: the level held, each change, the level now. */
export function automationLevelChart(runbookId, timeline) {
  const height = 180;
  const scale = timeScale(timeline);
  const y = (level) =>
    MARGIN.top + (1 - LEVELS.indexOf(level) / (LEVELS.length - 1)) * (height - MARGIN.top - MARGIN.bottom);
  const changes = timeline.levels.filter((point) => point.cause);
  const chart = frame(
    'automation-level',
    `${runbookId}: automation level over time`,
    changes.length
      ? `${changes.length} change(s); now ${timeline.levels.at(-1).level}.`
      : `No change recorded: ${timeline.levels.at(-1).level} throughout.`,
    height,
  );
  const axis = svg('g', { class: 'axis axis-y' });
  axis.append(svg('line', { x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: height - MARGIN.bottom }));
  for (const level of LEVELS) {
    const at = y(level);
    axis.append(svg('line', { class: 'grid', x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: at, y2: at }));
    axis.append(svg('text', { x: MARGIN.left - 6, y: at + 4, 'text-anchor': 'end' }, level));
  }
  chart.append(axis);
  timeAxis(chart, scale, height);
  // A step function: hold each level until the next point, then move vertically.
  const path = [];
  timeline.levels.forEach((point, index) => {
    const x = scale.x(Date.parse(point.at)).toFixed(2);
    const at = y(point.level).toFixed(2);
    if (index === 0) path.push(`M${x},${at}`);
    else path.push(`H${x}`, `V${at}`);
  });
  chart.append(svg('path', { class: 'line level', d: path.join(' ') }));
  series(
    chart,
    timeline.levels.map((point, index) => ({
      x: scale.x(Date.parse(point.at)),
      y: y(point.level),
      day: point.at.slice(0, 10),
      value: point.level,
      label: point.cause
        ? `${point.at}: ${point.cause} to ${point.level}`
        : index === 0
          ? `${point.at}: ${point.level}`
          : `now: ${point.level}`,
    })),
    'level',
    { line: false },
  );
  return chart;
}

const ROW = 40;
const LABEL_WIDTH = 170;
const COLUMN_GAP = 18;

/**
 * Step effectiveness: per step, the share of runs whose branch its finding decided (bar) with its 90 %
 * Wilson interval (whisker), its failure rate, and its p50 duration (bar) with p90 and p99 marks.
 */
export function stepEffectivenessChart(runbookId, steps) {
  const height = MARGIN.top + 24 + steps.length * ROW + 8;
  const column = (WIDTH - LABEL_WIDTH - 2 * COLUMN_GAP - 8) / 3;
  const left = [LABEL_WIDTH, LABEL_WIDTH + column + COLUMN_GAP, LABEL_WIDTH + 2 * (column + COLUMN_GAP)];
  const longest = Math.max(...steps.map((step) => step.durationMs?.p99 ?? 0), 0);
  const durationTop = durationCeiling(Math.max(longest, 1));
  const chart = frame(
    'step-effectiveness',
    `${runbookId}: step effectiveness`,
    `${steps.length} step(s): how often each diagnostic decided the branch taken (with its 90% interval), how often each step failed, and how long it took (p50 bar, p90 and p99 marks, up to ${duration(durationTop)}).`,
    height,
  );
  const heads = ['decided the branch', 'failed', `duration (0–${duration(durationTop)})`];
  for (const [index, head] of heads.entries())
    chart.append(svg('text', { class: 'axis-label', x: left[index], y: MARGIN.top + 4 }, head));
  steps.forEach((step, index) => {
    const top = MARGIN.top + 24 + index * ROW;
    const middle = top + ROW / 2 - 4;
    const row = svg('g', { class: 'step-row', 'data-step': step.stepId });
    row.append(
      svg(
        'text',
        { class: 'step-name', x: LABEL_WIDTH - 8, y: middle + 4, 'text-anchor': 'end' },
        step.stepId,
      ),
    );
    // Decisions: only diagnostics whose runs can tell have a rate.
    if (step.decision) {
      const { decided, decidable, rate, low, high } = step.decision;
      const bar = svg(
        'rect',
        {
          class: 'chart-bar decision',
          x: left[0],
          y: middle - 6,
          width: (rate * column).toFixed(2),
          height: 12,
          'data-value': rate,
          'data-low': low,
          'data-high': high,
        },
        svg(
          'title',
          {},
          `${step.stepId} decided ${decided} of ${decidable} run(s): ${percent(rate)}, 90% interval ${percent(low)}–${percent(high)}`,
        ),
      );
      row.append(
        svg('rect', { class: 'track', x: left[0], y: middle - 6, width: column.toFixed(2), height: 12 }),
        bar,
        svg('line', {
          class: 'whisker',
          x1: (left[0] + low * column).toFixed(2),
          x2: (left[0] + high * column).toFixed(2),
          y1: middle,
          y2: middle,
        }),
        svg(
          'text',
          { class: 'value', x: left[0], y: middle + 18 },
          `${decided}/${decidable} ${percent(rate)}`,
        ),
      );
    } else
      row.append(
        svg(
          'text',
          { class: 'value muted', x: left[0], y: middle + 4 },
          step.type === 'diagnostic' ? 'no run can tell' : step.type,
        ),
      );
    const failure = step.failureRate ?? 0;
    row.append(
      svg('rect', { class: 'track', x: left[1], y: middle - 6, width: column.toFixed(2), height: 12 }),
      svg(
        'rect',
        {
          class: 'chart-bar failure',
          x: left[1],
          y: middle - 6,
          width: (failure * column).toFixed(2),
          height: 12,
          'data-value': failure,
        },
        svg(
          'title',
          {},
          `${step.stepId} failed in ${step.failed} of ${step.runs} run(s) (${percent(failure)})${step.timedOut ? `, ${step.timedOut} timed out` : ''}`,
        ),
      ),
      svg(
        'text',
        { class: 'value', x: left[1], y: middle + 18 },
        `${step.failed}/${step.runs} ${percent(failure)}${step.timedOut ? ` (${step.timedOut} timed out)` : ''}`,
      ),
    );
    if (step.durationMs) {
      const { p50, p90, p99 } = step.durationMs;
      const x = (ms) => (left[2] + (ms / durationTop) * column).toFixed(2);
      row.append(
        svg('rect', { class: 'track', x: left[2], y: middle - 6, width: column.toFixed(2), height: 12 }),
        svg(
          'rect',
          {
            class: 'chart-bar duration',
            x: left[2],
            y: middle - 6,
            width: ((p50 / durationTop) * column).toFixed(2),
            height: 12,
            'data-p50': p50,
            'data-p90': p90,
            'data-p99': p99,
          },
          svg(
            'title',
            {},
            `${step.stepId}: p50 ${duration(p50)}, p90 ${duration(p90)}, p99 ${duration(p99)}`,
          ),
        ),
        svg('line', { class: 'mark p90', x1: x(p90), x2: x(p90), y1: middle - 8, y2: middle + 8 }),
        svg('line', { class: 'mark p99', x1: x(p99), x2: x(p99), y1: middle - 8, y2: middle + 8 }),
        svg(
          'text',
          { class: 'value', x: left[2], y: middle + 18 },
          `p50 ${duration(p50)} · p99 ${duration(p99)}`,
        ),
      );
    }
    chart.append(row);
  });
  return chart;
}

/** The numbers behind the time charts, as a table (for screen readers and for copying). */
function dayTable(timeline) {
  return html(
    'details',
    { class: 'chart-data' },
    html('summary', {}, 'The numbers per day, and the level changes'),
    html(
      'div',
      { class: 'table-wrap' },
      html(
        'table',
        {},
        html(
          'thead',
          {},
          html(
            'tr',
            {},
            ['Day', 'Runs', 'Succeeded', 'Failed', 'Aborted', 'Success rate', 'Mean time to recover'].map(
              (head) => html('th', { scope: 'col' }, head),
            ),
          ),
        ),
        html(
          'tbody',
          {},
          timeline.days.map((day) =>
            html(
              'tr',
              { 'data-day': day.day },
              [
                day.day,
                String(day.runs),
                String(day.succeeded),
                String(day.failed),
                String(day.aborted),
                percent(day.successRate),
                day.meanTimeToRecoverMs === undefined ? '—' : duration(day.meanTimeToRecoverMs),
              ].map((value) => html('td', {}, value)),
            ),
          ),
        ),
      ),
    ),
    timeline.levels.some((point) => point.cause)
      ? html(
          'ul',
          { class: 'small level-changes' },
          timeline.levels
            .filter((point) => point.cause)
            .map((point) =>
              html('li', {}, `${point.at}: automation level ${point.cause}, to ${point.level}`),
            ),
        )
      : null,
  );
}

function figure(chart, caption) {
  return html(
    'figure',
    { class: 'chart-figure' },
    chart,
    html('figcaption', { class: 'muted small' }, caption),
  );
}

/** One runbook's charts, or nothing when it has no timeline (an older server) or no day with runs. */
export function runbookCharts(runbook) {
  const timeline = runbook.timeline;
  if (!timeline || timeline.days.length === 0) return null;
  const id = runbook.runbookId;
  return html(
    'section',
    { class: 'runbook-charts', 'data-runbook': id, 'aria-label': `${id} charts` },
    html('h3', {}, id),
    html(
      'div',
      { class: 'chart-grid' },
      figure(successRateChart(id, timeline), 'Success rate per day (hover a point for its runs).'),
      figure(
        timeToMitigateChart(id, timeline),
        'Mean time to recover per day, from the alert to a verified end.',
      ),
      timeline.levels.length
        ? figure(automationLevelChart(id, timeline), 'Automation level: each change, and the level now.')
        : null,
      timeline.steps.length
        ? figure(
            stepEffectivenessChart(id, timeline.steps),
            'Per step: decisions (with the 90% interval), failures, durations (p50 bar, p90 and p99 marks).',
          )
        : null,
    ),
    dayTable(timeline),
  );
}

/** The Learning page's "Over time" panel: every runbook with runs gets its charts. */
export function learningCharts(report) {
  const sections = report.runbooks.map(runbookCharts).filter(Boolean);
  return html(
    'section',
    { class: 'panel', 'aria-labelledby': 'charts-title' },
    html('h2', { id: 'charts-title' }, 'Over time'),
    sections.length ? sections : html('p', { class: 'empty' }, 'No finished execution yet.'),
  );
}
