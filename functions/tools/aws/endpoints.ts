import { RunbookAutopilotError } from '../../core/errors.ts';

/*
 * The services and endpoint checks of the AWS tools' clients, without the SDK: the tool registry checks
 * the embedded platform's endpoints when it is built, before the AWS family (and its SDK clients) loads.
 */

/** Every service AwsClients builds a client for. */
export const AWS_SERVICES = [
  'cloudWatch',
  'logs',
  'ssm',
  'ec2',
  'autoScaling',
  'ecs',
  'lambda',
  'elbv2',
  'rds',
  'sqs',
  'dynamoDb',
  'applicationAutoScaling',
  'apiGateway',
  'elastiCache',
] as const;

/** A service AwsClients builds a client for (one method each). */
export type AwsService = (typeof AWS_SERVICES)[number];

/** Refuses an endpoint for a service AwsClients does not know (a typo) and one that is not an http(s) URL. */
export function checkedEndpoints(
  endpoints: Partial<Record<AwsService, string>> = {},
): Partial<Record<AwsService, string>> {
  for (const [service, endpoint] of Object.entries(endpoints)) {
    if (!(AWS_SERVICES as readonly string[]).includes(service))
      throw new RunbookAutopilotError(
        `AWS client endpoints: unknown service "${service}"; the services are ${AWS_SERVICES.join(', ')}`,
      );
    let url: URL | undefined;
    try {
      url = new URL(String(endpoint));
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
      throw new RunbookAutopilotError(
        `AWS client endpoints.${service}: "${String(endpoint)}" is not an http(s) URL such as http://127.0.0.1:4566`,
      );
  }
  return endpoints;
}
