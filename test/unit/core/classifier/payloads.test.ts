import { describe, expect, it } from 'vitest';
import {
  epochMillisToIso,
  isZeroTime,
  parseAlertmanagerWebhook,
  parseCloudWatchAlarmEvent,
  parseEventBridgeEvent,
  parseStepFunctionsStatusEvent,
  toIsoTimestamp,
} from '../../../../functions/core/classifier/payloads.ts';
import { InvalidEventError, ValidationError } from '../../../../functions/core/errors.ts';
import { copy, payload } from './fixtures.ts';

/** Runs `parse` and returns the InvalidEventError it must throw. */
function invalid(parse: () => unknown): InvalidEventError {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidEventError);
    return error as InvalidEventError;
  }
  throw new Error('expected an InvalidEventError, but parsing succeeded');
}

describe('toIsoTimestamp', () => {
  it.each([
    ['2026-11-25T09:58:30.512Z', '2026-11-25T09:58:30.512Z'],
    ['2018-08-03T09:52:26.739266876+02:00', '2018-08-03T07:52:26.739Z'],
    ['2019-10-02T17:04:40.989+0000', '2019-10-02T17:04:40.989Z'],
    ['2019-10-02T17:04:40Z', '2019-10-02T17:04:40.000Z'],
    ['2026-11-25T11:42:17.03Z', '2026-11-25T11:42:17.030Z'],
    ['2026-03-29t01:30:00-05:30', '2026-03-29T07:00:00.000Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
  ])('reads %s', (text, iso) => {
    expect(toIsoTimestamp(text)).toBe(iso);
  });

  it.each([
    'yesterday',
    '2026-11-25',
    '2026-11-25 10:00:00',
    '2026-02-30T10:00:00Z',
    '2026-11-25T25:00:00Z',
    '1795600711204',
  ])('refuses %s', (text) => {
    expect(toIsoTimestamp(text)).toBeUndefined();
  });

  it("knows Go's zero time in its spellings", () => {
    expect(isZeroTime('0001-01-01T00:00:00Z')).toBe(true);
    expect(isZeroTime('0001-01-01T00:00:00.000+00:00')).toBe(true);
    expect(isZeroTime('2026-11-25T10:12:30.512Z')).toBe(false);
  });

  it("turns Step Functions' epoch milliseconds into ISO", () => {
    expect(epochMillisToIso(1795600711204)).toBe('2026-11-25T09:58:31.204Z');
  });
});

describe('Alertmanager webhook', () => {
  it.each([
    'alertmanager-node-memory-pressure.json',
    'alertmanager-resolved.json',
    'alertmanager-crashloop.json',
    'alertmanager-filesystem.json',
  ])('accepts %s', (name) => {
    const body = payload(name);
    const parsed = parseAlertmanagerWebhook(body);
    expect(parsed.version).toBe('4');
    expect(parsed.alerts.length).toBe((body.alerts as unknown[]).length);
    // Validation only: parsing the parsed body gives the same body.
    expect(parseAlertmanagerWebhook(parsed)).toEqual(parsed);
  });

  it('names the field of a bad timestamp in a large group', () => {
    const error = invalid(() =>
      parseAlertmanagerWebhook(payload('malformed/alertmanager-bad-startsAt.json')),
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.name).toBe('InvalidEventError');
    expect(error.problems).toEqual([
      {
        check: 'schema',
        path: 'alerts[3].startsAt',
        message: 'expected an RFC 3339 timestamp such as 2024-05-02T17:04:40Z, got "yesterday at 10:00"',
      },
    ]);
    expect(error.message).toBe(
      'invalid Alertmanager webhook body: alerts[3].startsAt: expected an RFC 3339 timestamp such as 2024-05-02T17:04:40Z, got "yesterday at 10:00"',
    );
  });

  it('refuses another payload version', () => {
    const error = invalid(() =>
      parseAlertmanagerWebhook(payload('malformed/alertmanager-wrong-version.json')),
    );
    expect(error.problems).toEqual([
      {
        check: 'schema',
        path: 'version',
        message: 'expected "4" (the Alertmanager webhook payload version), got "3"',
      },
    ]);
  });

  it('refuses a label that is not a string', () => {
    const error = invalid(() =>
      parseAlertmanagerWebhook(payload('malformed/alertmanager-label-not-string.json')),
    );
    expect(error.problems).toEqual([
      { check: 'schema', path: 'alerts[0].labels.severity', message: 'expected string, got number' },
    ]);
  });

  it('refuses an alert without alertname', () => {
    const error = invalid(() =>
      parseAlertmanagerWebhook(payload('malformed/alertmanager-missing-alertname.json')),
    );
    expect(error.problems.map((problem) => problem.path)).toEqual(['alerts[1].labels.alertname']);
    expect(error.problems[0]!.message).toContain('expected an alertname label');
  });

  it('lists every missing field of something that is not a webhook at all', () => {
    const error = invalid(() =>
      parseAlertmanagerWebhook(payload('malformed/alertmanager-not-a-webhook.json')),
    );
    expect(error.problems.map((problem) => problem.path).sort()).toEqual(
      ['alerts', 'externalURL', 'groupKey', 'receiver', 'status', 'version'].sort(),
    );
    expect(error.problems.find((problem) => problem.path === 'groupKey')!.message).toBe(
      'is required (expected string)',
    );
    expect(error.message).toMatch(/\(and 5 more problems\)$/);
  });

  it.each([
    [null, 'expected object, got null'],
    ['firing', 'expected object, got string'],
    [[], 'expected object, got a list'],
  ])('refuses a body that is not an object (%j)', (body, message) => {
    const error = invalid(() => parseAlertmanagerWebhook(body));
    expect(error.problems).toEqual([{ check: 'schema', path: '', message }]);
  });

  it('refuses a status other than firing or resolved', () => {
    const body = copy(payload('alertmanager-crashloop.json')) as { alerts: Array<Record<string, unknown>> };
    body.alerts[0]!.status = 'pending';
    const error = invalid(() => parseAlertmanagerWebhook(body));
    expect(error.problems).toEqual([
      {
        check: 'schema',
        path: 'alerts[0].status',
        message: 'must be one of "firing", "resolved", got "pending"',
      },
    ]);
  });

  it("accepts what other senders add or leave out (Grafana's extra fields, no fingerprint, no truncatedAlerts)", () => {
    const body = copy(payload('alertmanager-crashloop.json')) as Record<string, unknown> & {
      alerts: Array<Record<string, unknown>>;
    };
    delete body.truncatedAlerts;
    body.orgId = 1;
    delete body.alerts[0]!.fingerprint;
    delete body.alerts[0]!.annotations;
    Object.assign(body.alerts[0]!, {
      silenceURL: 'https://grafana.example.com/alerting/silence/new',
      values: { B: 4 },
    });
    const parsed = parseAlertmanagerWebhook(body);
    expect(parsed.truncatedAlerts).toBe(0);
    expect(parsed.alerts[0]!.annotations).toEqual({});
    expect(parsed.alerts[0]!.fingerprint).toBeUndefined();
  });
});

describe('EventBridge envelope', () => {
  it('accepts any detail-type', () => {
    const event = parseEventBridgeEvent(payload('stepfunctions-status-change.json'));
    expect(event['detail-type']).toBe('Step Functions Execution Status Change');
  });

  it('names a bad account and region', () => {
    const event = copy(payload('cloudwatch-alarm-alb-5xx.json'));
    event.account = '3333';
    event.region = 'Ireland';
    const error = invalid(() => parseEventBridgeEvent(event));
    expect(error.problems).toEqual([
      { check: 'schema', path: 'account', message: 'expected a 12-digit AWS account id, got "3333"' },
      { check: 'schema', path: 'region', message: 'expected an AWS region such as eu-west-1, got "Ireland"' },
    ]);
  });
});

describe('CloudWatch Alarm State Change', () => {
  it.each([
    'cloudwatch-alarm-ec2-status-check.json',
    'cloudwatch-alarm-alb-5xx.json',
    'cloudwatch-alarm-lambda-throttles.json',
    'cloudwatch-alarm-ok.json',
    'cloudwatch-alarm-expression.json',
    'cloudwatch-alarm-container-insights-node-memory.json',
    'malformed/cloudwatch-alarm-reasondata-not-json.json',
  ])('accepts %s', (name) => {
    const event = parseCloudWatchAlarmEvent(payload(name));
    expect(event.detail.configuration.metrics.length).toBeGreaterThan(0);
    expect(parseCloudWatchAlarmEvent(event)).toEqual(event);
  });

  it('keeps reasonData a string (a JSON document inside JSON)', () => {
    const event = parseCloudWatchAlarmEvent(payload('cloudwatch-alarm-ec2-status-check.json'));
    expect(typeof event.detail.state.reasonData).toBe('string');
  });

  it('names a state value that does not exist', () => {
    const error = invalid(() =>
      parseCloudWatchAlarmEvent(payload('malformed/cloudwatch-alarm-bad-state.json')),
    );
    expect(error.problems).toEqual([
      {
        check: 'schema',
        path: 'detail.state.value',
        message: 'must be one of "OK", "ALARM", "INSUFFICIENT_DATA", got "FIRING"',
      },
    ]);
  });

  it('names a metric with neither metricStat nor expression', () => {
    const error = invalid(() =>
      parseCloudWatchAlarmEvent(payload('malformed/cloudwatch-alarm-metric-without-stat.json')),
    );
    expect(error.problems).toEqual([
      {
        check: 'schema',
        path: 'detail.configuration.metrics[0]',
        message: 'expected a metricStat or an expression, got an object',
      },
    ]);
  });

  it('refuses another detail-type', () => {
    const error = invalid(() => parseCloudWatchAlarmEvent(payload('stepfunctions-status-change.json')));
    expect(error.problems[0]).toEqual({
      check: 'schema',
      path: 'detail-type',
      message: 'expected "CloudWatch Alarm State Change", got "Step Functions Execution Status Change"',
    });
  });

  it('accepts a composite alarm (a rule, no metrics) and an initial state without reasonData', () => {
    const event = copy(payload('cloudwatch-alarm-expression.json')) as { detail: Record<string, unknown> };
    event.detail.configuration = {
      alarmRule: 'ALARM(storefront-web-5xx-rate) AND ALARM(storefront-web-target-5xx)',
    };
    const parsed = parseCloudWatchAlarmEvent(event);
    expect(parsed.detail.configuration.metrics).toEqual([]);
    expect(parsed.detail.previousState?.reasonData).toBeUndefined();
  });
});

describe('Step Functions Execution Status Change', () => {
  it('accepts the fixture with numbers for dates and strings for input and output', () => {
    const event = parseStepFunctionsStatusEvent(payload('stepfunctions-status-change.json'));
    expect(event.detail.status).toBe('SUCCEEDED');
    expect(epochMillisToIso(event.detail.startDate)).toBe('2026-11-25T09:58:31.204Z');
    expect(JSON.parse(event.detail.input!).execution.runbookId).toBe('node-memory-pressure');
  });

  it('accepts a running execution: stopDate and output null', () => {
    const event = copy(payload('stepfunctions-status-change.json')) as { detail: Record<string, unknown> };
    Object.assign(event.detail, { status: 'RUNNING', stopDate: null, output: null, outputDetails: null });
    const parsed = parseStepFunctionsStatusEvent(event);
    expect(parsed.detail.stopDate).toBeNull();
    expect(parsed.detail.output).toBeNull();
  });

  it('names dates that are not epoch milliseconds and unknown statuses', () => {
    const error = invalid(() =>
      parseStepFunctionsStatusEvent(payload('malformed/stepfunctions-bad-dates.json')),
    );
    expect(error.problems).toEqual([
      {
        check: 'schema',
        path: 'detail.status',
        message:
          'must be one of "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE", got "DONE"',
      },
      { check: 'schema', path: 'detail.startDate', message: 'expected number, got string' },
    ]);
  });
});
