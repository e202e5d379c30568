import { describe, expect, it } from 'vitest';
import {
  compileEventPattern,
  InvalidEventPatternError,
  matchesEventPattern,
  validateEventPattern,
} from '../../../functions/core/event-pattern.ts';

/** An EventBridge `CloudWatch Alarm State Change` event, shaped as AWS documents it. */
function cloudWatchAlarmEvent(stateValue = 'ALARM') {
  return {
    version: '0',
    id: 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92',
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: '123456789012',
    time: '2024-05-02T17:04:40Z',
    region: 'eu-west-1',
    resources: ['arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-api-5xx-rate'],
    detail: {
      alarmName: 'checkout-api-5xx-rate',
      state: {
        value: stateValue,
        reason:
          'Threshold Crossed: 1 datapoint [12.5 (02/05/24 17:03:00)] was greater than the threshold (5.0).',
        reasonData: '{"version":"1.0"}',
        timestamp: '2024-05-02T17:04:40.985+0000',
      },
      previousState: {
        value: 'OK',
        reason:
          'Threshold Crossed: 1 datapoint [0.4 (02/05/24 16:58:00)] was not greater than the threshold (5.0).',
        timestamp: '2024-05-02T16:59:40.985+0000',
      },
      configuration: {
        description: 'Checkout API 5xx rate above 5%',
        metrics: [
          {
            id: 'm1',
            metricStat: {
              metric: {
                namespace: 'AWS/ApplicationELB',
                name: 'HTTPCode_Target_5XX_Count',
                dimensions: { LoadBalancer: 'app/checkout/50dc6c495c0c9188' },
              },
              period: 60,
              stat: 'Sum',
            },
            returnData: true,
          },
        ],
      },
    },
  };
}

/** An EventBridge `Step Functions Execution Status Change` event. */
function stepFunctionsStatusEvent(status = 'FAILED') {
  return {
    version: '0',
    id: '315c1398-40ff-a850-213b-158f73e60175',
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '123456789012',
    time: '2024-05-02T19:42:21Z',
    region: 'eu-west-1',
    resources: ['arn:aws:states:eu-west-1:123456789012:execution:restart-pod:inc-42'],
    detail: {
      executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:restart-pod:inc-42',
      stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:restart-pod',
      name: 'inc-42',
      status,
      startDate: 1714678941000,
      stopDate: status === 'RUNNING' ? null : 1714678951881,
      input: '{"incidentId":"inc-42"}',
      output: null,
    },
  };
}

const ALARM_PATTERN = {
  source: ['aws.cloudwatch'],
  'detail-type': ['CloudWatch Alarm State Change'],
  detail: { state: { value: ['ALARM'] } },
};

describe('exact values', () => {
  it('matches a CloudWatch alarm entering ALARM by source, detail-type and nested state', () => {
    // Prepare
    const event = cloudWatchAlarmEvent('ALARM');
    // Act
    const matched = matchesEventPattern(ALARM_PATTERN, event);
    // Assess
    expect(matched).toBe(true);
  });

  it('does not match the same alarm returning to OK', () => {
    // Prepare
    const event = cloudWatchAlarmEvent('OK');
    // Act
    const matched = matchesEventPattern(ALARM_PATTERN, event);
    // Assess
    expect(matched).toBe(false);
  });

  it('requires every field the pattern names and ignores the others', () => {
    // Prepare
    const withoutSource = { ...cloudWatchAlarmEvent(), source: undefined };
    const withExtraFields = { ...cloudWatchAlarmEvent(), extra: { anything: [1, 2, 3] } };
    // Act
    const missingField = matchesEventPattern(ALARM_PATTERN, withoutSource);
    const extraFields = matchesEventPattern(ALARM_PATTERN, withExtraFields);
    // Assess
    expect(missingField).toBe(false);
    expect(extraFields).toBe(true);
  });

  it('matches when any value of the field array matches (OR)', () => {
    // Prepare
    const pattern = { source: ['aws.ec2', 'aws.cloudwatch'] };
    // Act
    const cloudwatch = matchesEventPattern(pattern, { source: 'aws.cloudwatch' });
    const states = matchesEventPattern(pattern, { source: 'aws.states' });
    // Assess
    expect(cloudwatch).toBe(true);
    expect(states).toBe(false);
  });

  it('is case sensitive', () => {
    // Prepare
    const pattern = { detail: { state: { value: ['ALARM'] } } };
    // Act
    const lowerCase = matchesEventPattern(pattern, { detail: { state: { value: 'alarm' } } });
    // Assess
    expect(lowerCase).toBe(false);
  });

  it('compares numbers by value, whatever their JSON spelling', () => {
    // Prepare
    const pattern = { detail: { period: [300] } };
    const spellings = ['300', '300.0', '3.0e2', '3e2'].map((text) =>
      JSON.parse(`{"detail":{"period":${text}}}`),
    );
    // Act
    const results = spellings.map((event) => matchesEventPattern(pattern, event));
    // Assess
    expect(results).toEqual([true, true, true, true]);
  });

  it('never equates a string with a number or a boolean', () => {
    // Prepare
    const numberPattern = { code: [300] };
    const booleanPattern = { enabled: [true] };
    // Act
    const numericString = matchesEventPattern(numberPattern, { code: '300' });
    const booleanString = matchesEventPattern(booleanPattern, { enabled: 'true' });
    const booleanValue = matchesEventPattern(booleanPattern, { enabled: true });
    // Assess
    expect(numericString).toBe(false);
    expect(booleanString).toBe(false);
    expect(booleanValue).toBe(true);
  });

  it('matches null to a JSON null only: not to a missing field, not to an empty string', () => {
    // Prepare
    const pattern = { detail: { output: [null] } };
    // Act
    const nullValue = matchesEventPattern(pattern, stepFunctionsStatusEvent());
    const missing = matchesEventPattern(pattern, { detail: {} });
    const emptyString = matchesEventPattern(pattern, { detail: { output: '' } });
    // Assess
    expect(nullValue).toBe(true);
    expect(missing).toBe(false);
    expect(emptyString).toBe(false);
  });

  it('matches an empty string to an empty string, not to null', () => {
    // Prepare
    const pattern = { detail: { eventVersion: [''] } };
    // Act
    const emptyString = matchesEventPattern(pattern, { detail: { eventVersion: '' } });
    const nullValue = matchesEventPattern(pattern, { detail: { eventVersion: null } });
    // Assess
    expect(emptyString).toBe(true);
    expect(nullValue).toBe(false);
  });

  it('matches an IP address value to every spelling of the same address', () => {
    // Prepare
    const pattern = { detail: { sourceIPAddress: ['2001:db8::1'] } };
    // Act
    const expanded = matchesEventPattern(pattern, { detail: { sourceIPAddress: '2001:0DB8:0:0:0:0:0:1' } });
    const other = matchesEventPattern(pattern, { detail: { sourceIPAddress: '2001:db8::2' } });
    // Assess
    expect(expanded).toBe(true);
    expect(other).toBe(false);
  });

  it('does not match a nested pattern against a scalar, nor an event that is not an object', () => {
    // Prepare
    const pattern = { detail: { state: ['ALARM'] } };
    // Act
    const scalarDetail = matchesEventPattern(pattern, { detail: 'ALARM' });
    const notAnObject = matchesEventPattern(pattern, 'ALARM');
    // Assess
    expect(scalarDetail).toBe(false);
    expect(notAnObject).toBe(false);
  });

  it('does not read inherited members of event objects', () => {
    // Prepare
    const pattern = { constructor: [{ exists: true }] };
    // Act
    const matched = matchesEventPattern(pattern, {});
    // Assess
    expect(matched).toBe(false);
  });
});

describe('arrays in events', () => {
  it('matches when the event array and the pattern array intersect', () => {
    // Prepare
    const pattern = {
      resources: [
        'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:payments-latency',
        'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-api-5xx-rate',
      ],
    };
    // Act
    const matched = matchesEventPattern(pattern, cloudWatchAlarmEvent());
    const disjoint = matchesEventPattern(pattern, stepFunctionsStatusEvent());
    const empty = matchesEventPattern(pattern, { resources: [] });
    // Assess
    expect(matched).toBe(true);
    expect(disjoint).toBe(false);
    expect(empty).toBe(false);
  });

  it('flattens nested arrays', () => {
    // Prepare
    const pattern = { tags: ['team:sre'] };
    // Act
    const matched = matchesEventPattern(pattern, { tags: [['env:prod'], ['team:sre', 'tier:1']] });
    // Assess
    expect(matched).toBe(true);
  });

  it('matches fields of objects in an array only when they come from the same element', () => {
    // Prepare (the example of aws/event-ruler's README, "JSON Array Matching")
    const event = {
      employees: [
        { firstName: 'John', lastName: 'Doe' },
        { firstName: 'Anna', lastName: 'Smith' },
        { firstName: 'Peter', lastName: 'Jones' },
      ],
    };
    // Act
    const oneField = matchesEventPattern({ employees: { firstName: ['Anna'] } }, event);
    const sameElement = matchesEventPattern(
      { employees: { firstName: ['Anna'], lastName: ['Smith'] } },
      event,
    );
    const acrossElements = matchesEventPattern(
      { employees: { firstName: ['Anna'], lastName: ['Jones'] } },
      event,
    );
    // Assess
    expect(oneField).toBe(true);
    expect(sameElement).toBe(true);
    expect(acrossElements).toBe(false);
  });

  it('reaches into the metrics array of a CloudWatch alarm', () => {
    // Prepare
    const pattern = {
      detail: {
        configuration: { metrics: { metricStat: { metric: { namespace: ['AWS/ApplicationELB'] } } } },
      },
    };
    // Act
    const matched = matchesEventPattern(pattern, cloudWatchAlarmEvent());
    // Assess
    expect(matched).toBe(true);
  });
});

describe('prefix', () => {
  it('matches strings that start with the prefix, case sensitively', () => {
    // Prepare
    const pattern = { time: [{ prefix: '2024-05-02' }] };
    // Act
    const sameDay = matchesEventPattern(pattern, { time: '2024-05-02T17:04:40Z' });
    const otherDay = matchesEventPattern(pattern, { time: '2024-05-03T00:00:00Z' });
    const wrongCase = matchesEventPattern({ region: [{ prefix: 'EU-' }] }, { region: 'eu-west-1' });
    // Assess
    expect(sameDay).toBe(true);
    expect(otherDay).toBe(false);
    expect(wrongCase).toBe(false);
  });

  it('never matches a number, null or a missing field', () => {
    // Prepare
    const pattern = { code: [{ prefix: '50' }] };
    // Act
    const number = matchesEventPattern(pattern, { code: 503 });
    const nullValue = matchesEventPattern(pattern, { code: null });
    const missing = matchesEventPattern(pattern, {});
    // Assess
    expect([number, nullValue, missing]).toEqual([false, false, false]);
  });

  it('with equals-ignore-case, ignores case', () => {
    // Prepare
    const pattern = { service: [{ prefix: { 'equals-ignore-case': 'eventb' } }] };
    // Act
    const upper = matchesEventPattern(pattern, { service: 'EventBridge' });
    const other = matchesEventPattern(pattern, { service: 'StepFunctions' });
    // Assess
    expect(upper).toBe(true);
    expect(other).toBe(false);
  });

  it('with an empty prefix, matches every string', () => {
    // Prepare
    const pattern = { name: [{ prefix: '' }] };
    // Act
    const text = matchesEventPattern(pattern, { name: 'anything' });
    const number = matchesEventPattern(pattern, { name: 1 });
    // Assess
    expect(text).toBe(true);
    expect(number).toBe(false);
  });
});

describe('suffix', () => {
  it('matches strings that end with the suffix', () => {
    // Prepare
    const pattern = { detail: { alarmName: [{ suffix: '-5xx-rate' }] } };
    // Act
    const matched = matchesEventPattern(pattern, cloudWatchAlarmEvent());
    const other = matchesEventPattern(pattern, { detail: { alarmName: 'checkout-api-latency' } });
    // Assess
    expect(matched).toBe(true);
    expect(other).toBe(false);
  });

  it('with equals-ignore-case, ignores case', () => {
    // Prepare
    const pattern = { FileName: [{ suffix: { 'equals-ignore-case': '.PNG' } }] };
    // Act
    const lower = matchesEventPattern(pattern, { FileName: 'graph.png' });
    const jpeg = matchesEventPattern(pattern, { FileName: 'graph.jpg' });
    // Assess
    expect(lower).toBe(true);
    expect(jpeg).toBe(false);
  });
});

describe('equals-ignore-case', () => {
  it('matches the same string in any case, and nothing else', () => {
    // Prepare
    const pattern = { detail: { state: { value: [{ 'equals-ignore-case': 'alarm' }] } } };
    // Act
    const upper = matchesEventPattern(pattern, cloudWatchAlarmEvent('ALARM'));
    const mixed = matchesEventPattern(pattern, cloudWatchAlarmEvent('Alarm'));
    const longer = matchesEventPattern(pattern, cloudWatchAlarmEvent('ALARMS'));
    const missing = matchesEventPattern(pattern, { detail: {} });
    // Assess
    expect([upper, mixed, longer, missing]).toEqual([true, true, false, false]);
  });
});

describe('wildcard', () => {
  it.each([
    ['Simple*Service', 'SimpleNotificationService', true],
    ['Simple*Service', 'SimpleService', true],
    ['Simple*Service', 'SimpleNotificationServices', false],
    ['*.png', 'dir/graph.png', true],
    ['*.png', 'graph.png.txt', false],
    [
      'arn:aws:states:*:*:execution:restart-*',
      'arn:aws:states:eu-west-1:123:execution:restart-pod:inc-1',
      true,
    ],
    ['a*b*c', 'acb', false],
    ['a*a*a', 'aa', false],
    ['*', '', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['C:\\\\*', 'C:\\Windows', true],
  ])('%s against %j is %s', (wildcard, value, expected) => {
    // Prepare
    const pattern = { path: [{ wildcard }] };
    // Act
    const matched = matchesEventPattern(pattern, { path: value });
    // Assess
    expect(matched).toBe(expected);
  });

  it('never matches a non-string', () => {
    // Prepare
    const pattern = { code: [{ wildcard: '*' }] };
    // Act
    const number = matchesEventPattern(pattern, { code: 5 });
    // Assess
    expect(number).toBe(false);
  });
});

describe('anything-but', () => {
  it('matches any value but the excluded one', () => {
    // Prepare
    const pattern = { detail: { state: { value: [{ 'anything-but': 'OK' }] } } };
    // Act
    const alarm = matchesEventPattern(pattern, cloudWatchAlarmEvent('ALARM'));
    const ok = matchesEventPattern(pattern, cloudWatchAlarmEvent('OK'));
    // Assess
    expect(alarm).toBe(true);
    expect(ok).toBe(false);
  });

  it('does not match a missing field, but matches null and values of another type', () => {
    // Prepare
    const pattern = { command: [{ 'anything-but': ['no-message'] }] };
    // Act
    const missing = matchesEventPattern(pattern, {});
    const nullValue = matchesEventPattern(pattern, { command: null });
    const number = matchesEventPattern(pattern, { command: 7 });
    // Assess
    expect(missing).toBe(false);
    expect(nullValue).toBe(true);
    expect(number).toBe(true);
  });

  it('excludes numbers by value, and lets strings through', () => {
    // Prepare
    const pattern = { 'x-limit': [{ 'anything-but': [100, 200, 300] }] };
    // Act
    const excluded = matchesEventPattern(pattern, JSON.parse('{"x-limit": 3.0e2}'));
    const other = matchesEventPattern(pattern, { 'x-limit': 301.8 });
    const numericString = matchesEventPattern(pattern, { 'x-limit': '300' });
    // Assess
    expect(excluded).toBe(false);
    expect(other).toBe(true);
    expect(numericString).toBe(true);
  });

  it('on an event array, matches when any element is not excluded', () => {
    // Prepare
    const pattern = { states: [{ 'anything-but': ['stopped', 'overloaded'] }] };
    // Act
    const oneAllowed = matchesEventPattern(pattern, { states: ['stopped', 'running'] });
    const allExcluded = matchesEventPattern(pattern, { states: ['stopped', 'overloaded'] });
    const empty = matchesEventPattern(pattern, { states: [] });
    // Assess
    expect(oneAllowed).toBe(true);
    expect(allExcluded).toBe(false);
    expect(empty).toBe(false);
  });

  it.each([
    [{ prefix: 'us-' }, 'eu-west-1', true],
    [{ prefix: 'us-' }, 'us-east-1', false],
    [{ prefix: ['us-', 'cn-'] }, 'cn-north-1', false],
    [{ suffix: '.png' }, 'graph.jpg', true],
    [{ suffix: ['.png', '.jpg'] }, 'graph.jpg', false],
    [{ 'equals-ignore-case': 'initializing' }, 'INITIALIZING', false],
    [{ 'equals-ignore-case': ['stopped', 'overloaded'] }, 'Overloaded', false],
    [{ 'equals-ignore-case': ['stopped', 'overloaded'] }, 'running', true],
    [{ wildcard: '*/lib/*' }, '/usr/lib/libc.so', false],
    [{ wildcard: ['*/lib/*', '*.tmp'] }, '/home/ops/notes.tmp', false],
    [{ wildcard: ['*/lib/*', '*.tmp'] }, '/usr/bin/runbook', true],
  ])('%j against %j is %s', (operator, value, expected) => {
    // Prepare
    const pattern = { field: [{ 'anything-but': operator }] };
    // Act
    const matched = matchesEventPattern(pattern, { field: value });
    // Assess
    expect(matched).toBe(expected);
  });

  it('with an operator, lets non-strings through and still skips missing fields', () => {
    // Prepare
    const pattern = { field: [{ 'anything-but': { prefix: 'us-' } }] };
    // Act
    const nullValue = matchesEventPattern(pattern, { field: null });
    const number = matchesEventPattern(pattern, { field: 42 });
    const missing = matchesEventPattern(pattern, {});
    // Assess
    expect([nullValue, number, missing]).toEqual([true, true, false]);
  });
});

describe('numeric', () => {
  it.each([
    [0, false],
    [0.1, true],
    [5, true],
    [5.000001, false],
    [-3, false],
  ])('(0, 5] against %s is %s', (value, expected) => {
    // Prepare
    const pattern = { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } };
    // Act
    const matched = matchesEventPattern(pattern, { detail: { 'c-count': value } });
    // Assess
    expect(matched).toBe(expected);
  });

  it('handles each single-bound operator at its boundary', () => {
    // Prepare
    const event = { value: 10 };
    // Act
    const results = ['<', '<=', '=', '>=', '>'].map((operator) =>
      matchesEventPattern({ value: [{ numeric: [operator, 10] }] }, event),
    );
    // Assess
    expect(results).toEqual([false, true, true, true, false]);
  });

  it('compares by value: "=" 3.018e2 matches 301.8', () => {
    // Prepare
    const pattern = { 'x-limit': [{ numeric: ['=', 3.018e2] }] };
    // Act
    const matched = matchesEventPattern(pattern, JSON.parse('{"x-limit": 301.80}'));
    // Assess
    expect(matched).toBe(true);
  });

  it('only matches JSON numbers: not numeric strings, not missing fields', () => {
    // Prepare
    const pattern = { detail: { startDate: [{ numeric: ['>=', 0] }] } };
    // Act
    const numericString = matchesEventPattern(pattern, { detail: { startDate: '1714678941000' } });
    const missing = matchesEventPattern(pattern, { detail: {} });
    const number = matchesEventPattern(pattern, stepFunctionsStatusEvent());
    // Assess
    expect(numericString).toBe(false);
    expect(missing).toBe(false);
    expect(number).toBe(true);
  });

  it('matches an event array when any element is in range', () => {
    // Prepare
    const pattern = { latencies: [{ numeric: ['>', 500] }] };
    // Act
    const matched = matchesEventPattern(pattern, { latencies: [120, 80, 950] });
    const none = matchesEventPattern(pattern, { latencies: [120, 80] });
    // Assess
    expect(matched).toBe(true);
    expect(none).toBe(false);
  });
});

describe('exists', () => {
  it('exists: true matches any present leaf value, null included', () => {
    // Prepare
    const pattern = { detail: { output: [{ exists: true }] } };
    // Act
    const nullValue = matchesEventPattern(pattern, stepFunctionsStatusEvent());
    const text = matchesEventPattern(pattern, { detail: { output: '{}' } });
    const leafArray = matchesEventPattern(pattern, { detail: { output: ['a', 'b'] } });
    const missing = matchesEventPattern(pattern, { detail: {} });
    // Assess
    expect([nullValue, text, leafArray, missing]).toEqual([true, true, true, false]);
  });

  it('exists: true does not match an intermediate node (an object, or an array without leaves)', () => {
    // Prepare
    const pattern = { detail: { 'c-count': [{ exists: true }] } };
    // Act
    const object = matchesEventPattern(pattern, { detail: { 'c-count': { c1: 100 } } });
    const emptyArray = matchesEventPattern(pattern, { detail: { 'c-count': [] } });
    // Assess
    expect(object).toBe(false);
    expect(emptyArray).toBe(false);
  });

  it('exists: false matches an absent field, an object, an empty array, and a missing parent', () => {
    // Prepare
    const pattern = { detail: { 'c-count': [{ exists: false }] } };
    // Act
    const absent = matchesEventPattern(pattern, { detail: { state: 'running' } });
    const object = matchesEventPattern(pattern, { detail: { 'c-count': { c1: 100 } } });
    const emptyArray = matchesEventPattern(pattern, { detail: { 'c-count': [] } });
    const noParent = matchesEventPattern(pattern, { source: 'aws.ec2' });
    // Assess
    expect([absent, object, emptyArray, noParent]).toEqual([true, true, true, true]);
  });

  it('exists: false does not match a present value, not even null or an array of leaves', () => {
    // Prepare
    const pattern = { detail: { output: [{ exists: false }] } };
    // Act
    const nullValue = matchesEventPattern(pattern, stepFunctionsStatusEvent());
    const leafArray = matchesEventPattern(pattern, { detail: { output: ['a'] } });
    const objectArray = matchesEventPattern(pattern, { detail: { output: [{ a: 1 }] } });
    // Assess
    expect(nullValue).toBe(false);
    expect(leafArray).toBe(false);
    expect(objectArray).toBe(true);
  });

  it('exists: false matches below an empty event array, where no field exists', () => {
    // Prepare
    const pattern = { items: { owner: [{ exists: false }] } };
    // Act
    const emptyArray = matchesEventPattern(pattern, { items: [] });
    const owned = matchesEventPattern(pattern, { items: [{ owner: 'sre' }] });
    // Assess
    expect(emptyArray).toBe(true);
    expect(owned).toBe(false);
  });
});

describe('cidr', () => {
  it.each([
    ['10.0.0.0/24', '10.0.0.0', true],
    ['10.0.0.0/24', '10.0.0.255', true],
    ['10.0.0.0/24', '10.0.1.0', false],
    ['10.0.0.0/24', 'not-an-ip', false],
    ['10.0.0.0/24', '2001:db8::1', false],
    ['0.0.0.0/0', '203.0.113.7', true],
    // ruler's range starts at the address as written, so a CIDR with host bits set starts mid-block (CIDR.java).
    ['10.0.0.5/24', '10.0.0.1', false],
    ['10.0.0.5/24', '10.0.0.200', true],
    ['2001:db8::/32', '2001:db8::1', true],
    ['2001:db8::/32', '2001:0DB8:FFFF:0:0:0:0:1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['2001:db8::/32', '10.0.0.1', false],
    ['::/0', '::1', true],
  ])('%s against %s is %s', (cidr, address, expected) => {
    // Prepare
    const pattern = { detail: { sourceIPAddress: [{ cidr }] } };
    // Act
    const matched = matchesEventPattern(pattern, { detail: { sourceIPAddress: address } });
    // Assess
    expect(matched).toBe(expected);
  });

  it('never matches a number or a missing field', () => {
    // Prepare
    const pattern = { ip: [{ cidr: '10.0.0.0/8' }] };
    // Act
    const number = matchesEventPattern(pattern, { ip: 10 });
    const missing = matchesEventPattern(pattern, {});
    // Assess
    expect(number).toBe(false);
    expect(missing).toBe(false);
  });
});

describe('$or', () => {
  const pattern = {
    source: ['aws.cloudwatch'],
    $or: [{ detail: { state: { value: ['ALARM'] } } }, { detail: { alarmName: [{ prefix: 'critical-' }] } }],
  };

  it('matches when any branch matches, together with the sibling fields (AND)', () => {
    // Prepare
    const alarm = cloudWatchAlarmEvent('ALARM');
    const criticalOk = {
      ...cloudWatchAlarmEvent('OK'),
      detail: { alarmName: 'critical-db', state: { value: 'OK' } },
    };
    const plainOk = cloudWatchAlarmEvent('OK');
    const otherSource = { ...cloudWatchAlarmEvent('ALARM'), source: 'aws.states' };
    // Act
    const results = [alarm, criticalOk, plainOk, otherSource].map((event) =>
      matchesEventPattern(pattern, event),
    );
    // Assess
    expect(results).toEqual([true, true, false, false]);
  });

  it('nests: a branch may hold its own $or', () => {
    // Prepare
    const nested = {
      $or: [{ a: ['1'] }, { b: ['2'], $or: [{ c: ['3'] }, { d: ['4'] }] }],
    };
    // Act
    const results = [{ a: '1' }, { b: '2', d: '4' }, { b: '2' }, { d: '4' }].map((event) =>
      matchesEventPattern(nested, event),
    );
    // Assess
    expect(results).toEqual([true, true, false, false]);
  });

  it('works at a nested level and inside array elements', () => {
    // Prepare
    const terminal = { detail: { $or: [{ status: ['FAILED'] }, { status: ['TIMED_OUT'] }] } };
    const items = { items: { $or: [{ a: ['1'] }, { b: ['2'] }] } };
    // Act
    const failed = matchesEventPattern(terminal, stepFunctionsStatusEvent('FAILED'));
    const succeeded = matchesEventPattern(terminal, stepFunctionsStatusEvent('SUCCEEDED'));
    const inElement = matchesEventPattern(items, { items: [{ a: '0' }, { b: '2' }] });
    // Assess
    expect(failed).toBe(true);
    expect(succeeded).toBe(false);
    expect(inElement).toBe(true);
  });
});

describe('realistic patterns', () => {
  it('routes failed, timed-out and aborted runbook executions, not running ones', () => {
    // Prepare
    const pattern = {
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: {
        status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
        stateMachineArn: [{ wildcard: 'arn:aws:states:*:123456789012:stateMachine:*' }],
      },
    };
    const compiled = compileEventPattern(pattern);
    // Act
    const results = ['FAILED', 'TIMED_OUT', 'ABORTED', 'RUNNING', 'SUCCEEDED'].map((status) =>
      compiled(stepFunctionsStatusEvent(status)),
    );
    // Assess
    expect(results).toEqual([true, true, true, false, false]);
  });

  it('selects a runbook by an applicability rule over a normalized alert', () => {
    // Prepare
    const applicability = {
      source: ['prometheus'],
      labels: {
        alertname: ['KubeNodeDiskPressure', 'NodeFilesystemAlmostOutOfSpace'],
        severity: ['critical'],
      },
      resource: { type: ['k8s-node'], id: [{ exists: true }] },
      annotations: { runbook_skip: [{ exists: false }] },
    };
    const alert = {
      source: 'prometheus',
      status: 'firing',
      labels: { alertname: 'KubeNodeDiskPressure', severity: 'critical', node: 'ip-10-0-3-17' },
      resource: { type: 'k8s-node', id: 'ip-10-0-3-17' },
      annotations: { summary: 'Disk pressure on ip-10-0-3-17' },
    };
    // Act
    const applies = matchesEventPattern(applicability, alert);
    const skipped = matchesEventPattern(applicability, { ...alert, annotations: { runbook_skip: 'true' } });
    // Assess
    expect(applies).toBe(true);
    expect(skipped).toBe(false);
  });
});

describe('validateEventPattern', () => {
  it.each([
    { name: 'a valid alarm pattern', pattern: ALARM_PATTERN },
    {
      name: 'every operator at once',
      pattern: {
        a: ['x', 1, true, null, { prefix: 'p' }, { prefix: { 'equals-ignore-case': 'p' } }, { suffix: 's' }],
        b: [{ suffix: { 'equals-ignore-case': 's' } }, { 'equals-ignore-case': 'e' }, { wildcard: 'a*b\\*' }],
        c: [
          { 'anything-but': 'x' },
          { 'anything-but': [1, 2] },
          { 'anything-but': { wildcard: ['*.a', '*.b'] } },
        ],
        d: [{ numeric: ['>', 0, '<=', 5] }, { numeric: ['=', 3.018e2] }, { exists: false }],
        e: [{ cidr: '10.0.0.0/24' }, { cidr: '2001:db8::/32' }],
        $or: [{ f: ['1'] }, { g: { h: ['2'] }, $or: [{ i: ['3'] }, { j: ['4'] }] }],
      },
    },
    { name: 'operator names as plain field names outside $or', pattern: { detail: { prefix: ['x'] } } },
  ])('finds no problem in $name', ({ pattern }) => {
    // Prepare (pattern from the table)
    // Act
    const problems = validateEventPattern(pattern);
    // Assess
    expect(problems).toEqual([]);
  });

  it.each([
    { name: 'an array pattern', pattern: [], path: '', message: /must be a JSON object, got an array/ },
    { name: 'a string pattern', pattern: '{"source":["x"]}', path: '', message: /must be a JSON object/ },
    { name: 'a null pattern', pattern: null, path: '', message: /got null/ },
    { name: 'an empty pattern', pattern: {}, path: '', message: /empty objects are not allowed/ },
    {
      name: 'a leaf that is not an array',
      pattern: { source: 'aws.ec2' },
      path: 'source',
      message: /\["aws.ec2"\]/,
    },
    {
      name: 'an empty leaf array',
      pattern: { detail: { state: [] } },
      path: 'detail.state',
      message: /empty arrays/,
    },
    { name: 'an empty nested object', pattern: { detail: {} }, path: 'detail', message: /empty objects/ },
    { name: 'an array as a value', pattern: { source: [['x']] }, path: 'source[0]', message: /got an array/ },
    {
      name: 'two operators in one object',
      pattern: { s: [{ prefix: 'a', suffix: 'b' }] },
      path: 's[0]',
      message: /exactly one operator.*"prefix", "suffix"/,
    },
    {
      name: 'an empty operator object',
      pattern: { s: [{}] },
      path: 's[0]',
      message: /exactly one operator.*got none/,
    },
    {
      name: 'a misspelt operator',
      pattern: { s: [{ prefx: 'a' }] },
      path: 's[0].prefx',
      message: /unknown operator "prefx"; did you mean "prefix"\?/,
    },
    {
      name: 'a capitalised operator',
      pattern: { s: [{ Numeric: ['>', 1] }] },
      path: 's[0].Numeric',
      message: /did you mean "numeric"\?/,
    },
    {
      name: 'an unknown operator',
      pattern: { s: [{ regex: 'a+' }] },
      path: 's[0].regex',
      message: /unknown operator "regex"; use one of prefix, suffix/,
    },
    {
      name: 'a non-string prefix',
      pattern: { s: [{ prefix: 5 }] },
      path: 's[0].prefix',
      message: /a string or \{"equals-ignore-case"/,
    },
    {
      name: 'a misspelt prefix option',
      pattern: { s: [{ prefix: { 'equals-ignorecase': 'a' } }] },
      path: 's[0].prefix.equals-ignorecase',
      message: /did you mean "equals-ignore-case"/,
    },
    {
      name: 'a non-string ignore-case suffix',
      pattern: { s: [{ suffix: { 'equals-ignore-case': 1 } }] },
      path: 's[0].suffix.equals-ignore-case',
      message: /must be a string, got number 1/,
    },
    {
      name: 'a non-string equals-ignore-case',
      pattern: { s: [{ 'equals-ignore-case': ['a'] }] },
      path: 's[0].equals-ignore-case',
      message: /must be a string/,
    },
    {
      name: 'consecutive wildcards',
      pattern: { s: [{ wildcard: 'a**b' }] },
      path: 's[0].wildcard',
      message: /consecutive wildcard characters at position 1/,
    },
    {
      name: 'an invalid wildcard escape',
      pattern: { s: [{ wildcard: 'a\\b' }] },
      path: 's[0].wildcard',
      message: /invalid escape at position 1/,
    },
    {
      name: 'a trailing backslash in a wildcard',
      pattern: { s: [{ wildcard: 'a\\' }] },
      path: 's[0].wildcard',
      message: /invalid escape/,
    },
    {
      name: 'a non-string wildcard',
      pattern: { s: [{ wildcard: 1 }] },
      path: 's[0].wildcard',
      message: /must be a string/,
    },
    {
      name: 'anything-but null',
      pattern: { s: [{ 'anything-but': null }] },
      path: 's[0].anything-but',
      message: /a string, a number, a list/,
    },
    {
      name: 'an empty anything-but list',
      pattern: { s: [{ 'anything-but': [] }] },
      path: 's[0].anything-but',
      message: /empty arrays/,
    },
    {
      name: 'a mixed anything-but list',
      pattern: { s: [{ 'anything-but': ['a', 1] }] },
      path: 's[0].anything-but',
      message: /only strings or only numbers/,
    },
    {
      name: 'a boolean in an anything-but list',
      pattern: { s: [{ 'anything-but': ['a', true] }] },
      path: 's[0].anything-but[1]',
      message: /strings or numbers, got boolean true/,
    },
    {
      name: 'a misspelt anything-but operator',
      pattern: { s: [{ 'anything-but': { prefx: 'a' } }] },
      path: 's[0].anything-but.prefx',
      message: /did you mean "prefix"/,
    },
    {
      name: 'an unsupported anything-but operator',
      pattern: { s: [{ 'anything-but': { numeric: ['>', 1] } }] },
      path: 's[0].anything-but.numeric',
      message:
        /unknown anything-but operator "numeric"; use one of prefix, suffix, equals-ignore-case, wildcard/,
    },
    {
      name: 'two anything-but operators',
      pattern: { s: [{ 'anything-but': { prefix: 'a', suffix: 'b' } }] },
      path: 's[0].anything-but',
      message: /got prefix, suffix/,
    },
    {
      name: 'an empty anything-but prefix',
      pattern: { s: [{ 'anything-but': { prefix: '' } }] },
      path: 's[0].anything-but.prefix',
      message: /empty prefix would exclude every value/,
    },
    {
      name: 'an empty suffix in an anything-but list',
      pattern: { s: [{ 'anything-but': { suffix: ['.a', ''] } }] },
      path: 's[0].anything-but.suffix[1]',
      message: /empty suffix/,
    },
    {
      name: 'a bad wildcard in an anything-but list',
      pattern: { s: [{ 'anything-but': { wildcard: ['*.a', 'b**'] } }] },
      path: 's[0].anything-but.wildcard[1]',
      message: /consecutive wildcard/,
    },
    {
      name: 'a number in an anything-but ignore-case list',
      pattern: { s: [{ 'anything-but': { 'equals-ignore-case': ['a', 1] } }] },
      path: 's[0].anything-but.equals-ignore-case[1]',
      message: /must be a string/,
    },
    {
      name: 'numeric that is not an array',
      pattern: { n: [{ numeric: 5 }] },
      path: 'n[0].numeric',
      message: /must be an array/,
    },
    {
      name: 'an empty numeric array',
      pattern: { n: [{ numeric: [] }] },
      path: 'n[0].numeric',
      message: /empty numeric expression/,
    },
    {
      name: 'an unknown numeric operator',
      pattern: { n: [{ numeric: ['=>', 5] }] },
      path: 'n[0].numeric[0]',
      message: /"=>" is not a numeric operator; use one of =, <, <=, >, >=/,
    },
    {
      name: 'a numeric string bound',
      pattern: { n: [{ numeric: ['>', '5'] }] },
      path: 'n[0].numeric[1]',
      message: /must be a JSON number.*got the string "5"/,
    },
    {
      name: 'an operator without its number',
      pattern: { n: [{ numeric: ['>'] }] },
      path: 'n[0].numeric',
      message: /">" needs a number after it/,
    },
    {
      name: '"=" with a second bound',
      pattern: { n: [{ numeric: ['=', 1, '<', 5] }] },
      path: 'n[0].numeric',
      message: /"=" takes a single number/,
    },
    {
      name: 'an upper bound first',
      pattern: { n: [{ numeric: ['<', 5, '>', 1] }] },
      path: 'n[0].numeric',
      message: /starts with its lower bound/,
    },
    {
      name: 'two lower bounds',
      pattern: { n: [{ numeric: ['>', 1, '>=', 2] }] },
      path: 'n[0].numeric[2]',
      message: /">=" cannot follow ">"/,
    },
    {
      name: 'an inverted range',
      pattern: { n: [{ numeric: ['>=', 5, '<', 5] }] },
      path: 'n[0].numeric',
      message: /lower bound 5 must be less than the upper bound 5/,
    },
    {
      name: 'a third bound',
      pattern: { n: [{ numeric: ['>', 0, '<', 5, '<', 6] }] },
      path: 'n[0].numeric[4]',
      message: /too many elements/,
    },
    {
      name: 'a non-boolean exists',
      pattern: { e: [{ exists: 'true' }] },
      path: 'e[0].exists',
      message: /must be true or false, got the string "true"/,
    },
    {
      name: 'a CIDR without a mask',
      pattern: { ip: [{ cidr: '10.0.0.0' }] },
      path: 'ip[0].cidr',
      message: /exactly one "\/" is required/,
    },
    {
      name: 'a CIDR with a bad mask',
      pattern: { ip: [{ cidr: '10.0.0.0/x' }] },
      path: 'ip[0].cidr',
      message: /mask after "\/" must be a non-negative integer/,
    },
    {
      name: 'a CIDR with a bad address',
      pattern: { ip: [{ cidr: '10.0.0.300/8' }] },
      path: 'ip[0].cidr',
      message: /"10.0.0.300" is not an IPv4 or IPv6 address/,
    },
    {
      name: 'a /32 CIDR',
      pattern: { ip: [{ cidr: '10.0.0.1/32' }] },
      path: 'ip[0].cidr',
      message: /IPv4 mask bits must be less than 32; to match the single address, list "10.0.0.1"/,
    },
    {
      name: 'a /128 CIDR',
      pattern: { ip: [{ cidr: '::1/128' }] },
      path: 'ip[0].cidr',
      message: /IPv6 mask bits must be less than 128/,
    },
    {
      name: 'a malformed IPv6 CIDR',
      pattern: { ip: [{ cidr: '2400:6500:3:3:3:3:3:3:3:3FF00::36FB:1F80/122' }] },
      path: 'ip[0].cidr',
      message: /is not an IPv4 or IPv6 address/,
    },
    {
      name: 'a non-string CIDR',
      pattern: { ip: [{ cidr: 10 }] },
      path: 'ip[0].cidr',
      message: /a string such as "10.0.0.0\/24"/,
    },
    {
      name: '$or that is not an array',
      pattern: { $or: { a: ['1'] } },
      path: '$or',
      message: /\$or must be an array of at least two pattern objects, got an object/,
    },
    {
      name: '$or with one branch',
      pattern: { $or: [{ a: ['1'] }] },
      path: '$or',
      message: /at least two pattern objects, got 1/,
    },
    {
      name: '$or with a non-object branch',
      pattern: { $or: [{ a: ['1'] }, ['b']] },
      path: '$or[1]',
      message: /must be a pattern object, got an array/,
    },
    {
      name: '$or with an empty branch',
      pattern: { $or: [{ a: ['1'] }, {}] },
      path: '$or[1]',
      message: /empty objects/,
    },
    {
      name: 'an operator name as a field inside $or',
      pattern: { $or: [{ a: ['1'] }, { detail: { numeric: [1] } }] },
      path: '$or[1].detail.numeric',
      message: /"numeric" is an operator name and cannot be a field name inside \$or/,
    },
  ])('reports $name at "$path"', ({ pattern, path, message }) => {
    // Prepare (pattern from the table)
    // Act
    const problems = validateEventPattern(pattern);
    // Assess
    expect(problems).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it('reports every problem, not just the first', () => {
    // Prepare
    const pattern = {
      source: 'aws.cloudwatch',
      detail: { state: { value: [{ prefx: 'AL' }] }, count: [{ numeric: ['>', 'one'] }] },
      $or: [{ a: ['1'] }],
    };
    // Act
    const problems = validateEventPattern(pattern);
    // Assess
    expect(problems.map((problem) => problem.path)).toEqual([
      'source',
      'detail.state.value[0].prefx',
      'detail.count[0].numeric[1]',
      '$or',
    ]);
  });
});

describe('compileEventPattern', () => {
  it('compiles once and matches many events', () => {
    // Prepare
    const matches = compileEventPattern(ALARM_PATTERN);
    // Act
    const results = ['ALARM', 'OK', 'INSUFFICIENT_DATA', 'ALARM'].map((state) =>
      matches(cloudWatchAlarmEvent(state)),
    );
    // Assess
    expect(results).toEqual([true, false, false, true]);
  });

  it('throws InvalidEventPatternError listing every problem', () => {
    // Prepare
    const pattern = { source: [], detail: { state: [{ wildcard: 'a**' }] } };
    // Act
    const thrown = (() => {
      try {
        compileEventPattern(pattern);
        return undefined;
      } catch (error) {
        return error;
      }
    })();
    // Assess
    expect(thrown).toBeInstanceOf(InvalidEventPatternError);
    const error = thrown as InvalidEventPatternError;
    expect(error.name).toBe('InvalidEventPatternError');
    expect(error.problems.map((problem) => problem.path)).toEqual(['source', 'detail.state[0].wildcard']);
    expect(error.message).toContain('Invalid event pattern (2 problems)');
    expect(error.message).toContain('detail.state[0].wildcard: consecutive wildcard characters');
  });

  it('makes matchesEventPattern throw too', () => {
    // Prepare
    const pattern = { detail: 'x' };
    // Act
    const act = () => matchesEventPattern(pattern, {});
    // Assess
    expect(act).toThrow(InvalidEventPatternError);
  });
});

describe('InvalidEventPatternError', () => {
  it('is an Error with a stable name, its problems and an optional cause', () => {
    // Prepare
    const cause = new SyntaxError('Unexpected token');
    const problems = [{ path: '', message: 'an event pattern must be a JSON object, got null' }];
    // Act
    const error = new InvalidEventPatternError(problems, { cause });
    // Assess
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('InvalidEventPatternError');
    expect(error.problems).toEqual(problems);
    expect(error.cause).toBe(cause);
    expect(error.message).toBe(
      'Invalid event pattern (1 problem):\n  (pattern): an event pattern must be a JSON object, got null',
    );
  });
});
