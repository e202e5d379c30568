import type { AwsAccount } from './account.ts';
import { dateOf } from './ids.ts';
import { checkPeriod, checkStatistic, type Datapoint, seriesId } from './metric-store.ts';
import { type AwsCall, AwsError, page, pageToken, type ServiceDefinition, tokenOffset } from './protocol.ts';

/**
 * Amazon CloudWatch (metrics and alarms). The SDK's CloudWatch client speaks AWS JSON 1.0
 * (`X-Amz-Target: GraniteServiceVersion20100801.<Operation>`) with Query-compatible error codes.
 * API: GetMetricData (MetricStat queries, pagination by MaxDatapoints and NextToken, ScanBy),
 * ListMetrics, DescribeAlarms.
 */

const QUERY_ID = /^[a-z][a-zA-Z0-9_]*$/;
const MAX_QUERIES = 500;
const DEFAULT_MAX_DATAPOINTS = 100_800;

function invalid(message: string): AwsError {
  return new AwsError('InvalidParameterValueException', message, 400, { queryCode: 'InvalidParameterValue' });
}

function timeOf(value: unknown, name: string): number {
  const seconds =
    typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) / 1_000 : Number.NaN;
  if (!Number.isFinite(seconds))
    throw new AwsError('MissingRequiredParameterException', `The parameter ${name} is required.`, 400, {
      queryCode: 'MissingParameter',
    });
  return seconds;
}

interface MetricStatInput {
  Metric?: { Namespace?: string; MetricName?: string; Dimensions?: Array<{ Name?: string; Value?: string }> };
  Period?: number;
  Stat?: string;
}

export function cloudWatchService(account: AwsAccount): ServiceDefinition {
  return {
    name: 'monitoring',
    protocol: 'json',
    jsonVersion: '1.0',
    target: 'GraniteServiceVersion20100801',
    queryCompatible: true,
    handle(call: AwsCall) {
      const input = call.input;
      const now = call.now;
      switch (call.operation) {
        case 'GetMetricData': {
          const queries = Array.isArray(input.MetricDataQueries)
            ? (input.MetricDataQueries as Array<Record<string, unknown>>)
            : [];
          if (queries.length === 0 || queries.length > MAX_QUERIES)
            throw invalid(
              `The collection MetricDataQueries must not be empty and must not have more than ${MAX_QUERIES} elements.`,
            );
          const start = timeOf(input.StartTime, 'StartTime');
          const end = timeOf(input.EndTime, 'EndTime');
          if (start >= end) throw invalid('The parameter StartTime must be less than the parameter EndTime.');
          const scanBy = String(input.ScanBy ?? 'TimestampDescending');
          if (scanBy !== 'TimestampDescending' && scanBy !== 'TimestampAscending')
            throw invalid(`The value ${scanBy} for parameter ScanBy is not valid.`);
          const maxDatapoints =
            input.MaxDatapoints === undefined ? DEFAULT_MAX_DATAPOINTS : Number(input.MaxDatapoints);
          const seen = new Set<string>();
          const results = queries.map((query, index) => {
            const id = String(query.Id ?? '');
            if (!QUERY_ID.test(id))
              throw invalid(
                `The value ${id} for parameter MetricDataQueries.member.${index + 1}.Id is not valid: it must start with a lowercase letter and contain only letters, numbers and underscores.`,
              );
            if (seen.has(id))
              throw invalid(`The values for parameter id in MetricDataQueries are not unique: ${id}.`);
            seen.add(id);
            if (query.Expression !== undefined)
              throw invalid(
                `MetricDataQueries.member.${index + 1}: the simulated CloudWatch answers MetricStat queries; metric math expressions are not simulated`,
              );
            const stat = query.MetricStat as MetricStatInput | undefined;
            if (
              !stat?.Metric?.Namespace ||
              !stat.Metric.MetricName ||
              stat.Period === undefined ||
              !stat.Stat
            )
              throw invalid(
                `MetricDataQueries.member.${index + 1}: a MetricStat needs Metric.Namespace, Metric.MetricName, Period and Stat.`,
              );
            checkPeriod(Number(stat.Period), `MetricDataQueries.member.${index + 1}.MetricStat.Period`);
            checkStatistic(stat.Stat, `MetricDataQueries.member.${index + 1}.MetricStat.Stat`);
            const dimensions = Object.fromEntries(
              (stat.Metric.Dimensions ?? []).map((dimension) => [
                String(dimension.Name),
                String(dimension.Value),
              ]),
            );
            const points: Datapoint[] = account.metrics.read(
              { namespace: stat.Metric.Namespace, metricName: stat.Metric.MetricName, dimensions },
              stat.Stat,
              Number(stat.Period),
              start,
              end,
              now,
            );
            if (scanBy === 'TimestampDescending') points.reverse();
            return {
              id,
              label: String(query.Label ?? stat.Metric.MetricName),
              returnData: query.ReturnData !== false,
              points,
            };
          });
          // One page holds at most MaxDatapoints datapoints, query by query; the token says where to go on.
          const scope = `cloudwatch:${queries.map((query) => String(query.Id)).join(',')}:${start}:${end}`;
          let skip = tokenOffset(input.NextToken as string | undefined, scope, 'InvalidNextToken');
          let room = maxDatapoints;
          let consumed = skip;
          let more = false;
          const output = results
            .filter((result) => result.returnData)
            .map((result) => {
              const available = result.points.slice(Math.min(skip, result.points.length));
              skip = Math.max(0, skip - result.points.length);
              const taken = available.slice(0, room);
              room -= taken.length;
              consumed += taken.length;
              const partial = taken.length < available.length;
              if (partial) more = true;
              return {
                Id: result.id,
                Label: result.label,
                Timestamps: taken.map((point) => dateOf(point.timestamp)),
                Values: taken.map((point) => point.value),
                StatusCode: partial ? 'PartialData' : 'Complete',
                Messages: [],
              };
            });
          return {
            body: {
              MetricDataResults: output,
              Messages: [],
              ...(more ? { NextToken: pageToken(consumed, scope) } : {}),
            },
          };
        }
        case 'ListMetrics': {
          const namespace = input.Namespace === undefined ? undefined : String(input.Namespace);
          const name = input.MetricName === undefined ? undefined : String(input.MetricName);
          const filters = Array.isArray(input.Dimensions)
            ? (input.Dimensions as Array<{ Name?: string; Value?: string }>)
            : [];
          const metrics = account.metrics
            .all()
            .filter(
              (series) =>
                (namespace === undefined || series.key.namespace === namespace) &&
                (name === undefined || series.key.metricName === name) &&
                filters.every(
                  (filter) =>
                    filter.Name !== undefined &&
                    filter.Name in series.key.dimensions &&
                    (filter.Value === undefined || series.key.dimensions[filter.Name] === filter.Value),
                ),
            )
            .sort((a, b) => seriesId(a.key).localeCompare(seriesId(b.key)));
          const { items, next } = page(
            metrics,
            input.NextToken as string | undefined,
            500,
            `cloudwatch:list:${namespace}:${name}`,
            'InvalidNextToken',
          );
          return {
            body: {
              Metrics: items.map((series) => ({
                Namespace: series.key.namespace,
                MetricName: series.key.metricName,
                Dimensions: Object.entries(series.key.dimensions).map(([Name, Value]) => ({ Name, Value })),
              })),
              ...(next ? { NextToken: next } : {}),
            },
          };
        }
        case 'DescribeAlarms': {
          const names = Array.isArray(input.AlarmNames) ? (input.AlarmNames as string[]) : undefined;
          const prefix = input.AlarmNamePrefix === undefined ? undefined : String(input.AlarmNamePrefix);
          const state = input.StateValue === undefined ? undefined : String(input.StateValue);
          const alarms = [...account.alarms.alarms.values()].filter(
            (alarm) =>
              (!names || names.includes(alarm.definition.name)) &&
              (prefix === undefined || alarm.definition.name.startsWith(prefix)) &&
              (state === undefined || alarm.state.value === state),
          );
          const size = input.MaxRecords === undefined ? 50 : Number(input.MaxRecords);
          if (!Number.isInteger(size) || size < 1 || size > 100)
            throw invalid('MaxRecords must be between 1 and 100.');
          const { items, next } = page(
            alarms,
            input.NextToken as string | undefined,
            size,
            'cloudwatch:alarms',
            'InvalidNextToken',
          );
          return {
            body: {
              MetricAlarms: items.map((alarm) => {
                const definition = alarm.definition;
                const extended = /^p/.test(definition.statistic);
                return {
                  AlarmName: definition.name,
                  AlarmArn: alarm.arn,
                  AlarmDescription: definition.description,
                  AlarmConfigurationUpdatedTimestamp: dateOf(account.startedAt - 30 * 86_400),
                  ActionsEnabled: true,
                  OKActions: [],
                  AlarmActions: [],
                  InsufficientDataActions: [],
                  StateValue: alarm.state.value,
                  StateReason: alarm.state.reason,
                  ...(alarm.state.reasonData ? { StateReasonData: alarm.state.reasonData } : {}),
                  StateUpdatedTimestamp: dateOf(alarm.state.at),
                  StateTransitionedTimestamp: dateOf(alarm.state.at),
                  MetricName: definition.metricName,
                  Namespace: definition.namespace,
                  ...(extended
                    ? { ExtendedStatistic: definition.statistic }
                    : { Statistic: definition.statistic }),
                  Dimensions: Object.entries(definition.dimensions).map(([Name, Value]) => ({ Name, Value })),
                  Period: definition.period,
                  EvaluationPeriods: definition.evaluationPeriods,
                  DatapointsToAlarm: definition.datapointsToAlarm,
                  Threshold: definition.threshold,
                  ComparisonOperator: definition.comparison,
                  TreatMissingData: definition.treatMissingData,
                };
              }),
              CompositeAlarms: [],
              ...(next ? { NextToken: next } : {}),
            },
          };
        }
        default:
          return undefined;
      }
    },
  };
}
