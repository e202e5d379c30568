import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { GetCommandInvocationCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { RunbookAutopilotError } from '../../../../functions/core/errors.ts';
import { AWS_SERVICES, awsClients } from '../../../../functions/tools/aws/clients.ts';
import { createToolRegistry } from '../../../../functions/tools/index.ts';
import { toolRuntime } from '../generic-harness.ts';

/** A one-route AWS JSON 1.1 endpoint that records what reached it. */
async function recordingEndpoint(answer: unknown) {
  const requests: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      requests.push({ headers: request.headers, body });
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise((resolve) => server.close(resolve)) };
}

describe('awsClients', () => {
  it('builds one client per service and region, on first use', async () => {
    const clients = awsClients({ defaultRegion: 'eu-west-1' });

    const dublin = clients.ec2();
    const frankfurt = clients.ec2('eu-central-1');

    expect(dublin).toBeInstanceOf(EC2Client);
    expect(clients.ec2('eu-west-1')).toBe(dublin);
    expect(clients.ec2('eu-central-1')).toBe(frankfurt);
    expect(frankfurt).not.toBe(dublin);
    expect(await dublin.config.region()).toBe('eu-west-1');
    expect(await frankfurt.config.region()).toBe('eu-central-1');
    expect(clients.cloudWatch('eu-central-1')).toBeInstanceOf(CloudWatchClient);
  });

  it('leaves the region to the SDK when neither the call nor the options name one', async () => {
    const previous = process.env.AWS_REGION;
    process.env.AWS_REGION = 'ap-southeast-2';
    try {
      const client = awsClients().lambda();
      expect(await client.config.region()).toBe('ap-southeast-2');
    } finally {
      if (previous === undefined) delete process.env.AWS_REGION;
      else process.env.AWS_REGION = previous;
    }
  });

  it('sends a service to its configured endpoint, signed with the given credentials', async () => {
    // Prepare
    const endpoint = await recordingEndpoint({ CommandId: 'c-1', InstanceId: 'i-1', Status: 'Success' });
    const clients = awsClients({
      defaultRegion: 'eu-west-1',
      endpoints: { ssm: endpoint.url },
      credentials: { accessKeyId: 'AKIDDEMOTARGET', secretAccessKey: 'not-a-secret' },
    });

    try {
      // Act
      const answer = await clients
        .ssm('eu-central-1')
        .send(new GetCommandInvocationCommand({ CommandId: 'c-1', InstanceId: 'i-1' }));

      // Assess
      expect(answer.Status).toBe('Success');
      expect(endpoint.requests).toHaveLength(1);
      expect(endpoint.requests[0]!.headers['x-amz-target']).toBe('AmazonSSM.GetCommandInvocation');
      expect(endpoint.requests[0]!.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDDEMOTARGET\/\d{8}\/eu-central-1\/ssm\/aws4_request,/,
      );
      expect(JSON.parse(endpoint.requests[0]!.body)).toEqual({ CommandId: 'c-1', InstanceId: 'i-1' });
    } finally {
      await endpoint.close();
    }
  });

  it('leaves the services without an endpoint on AWS', async () => {
    // Act
    const clients = awsClients({ defaultRegion: 'eu-west-1', endpoints: { ssm: 'http://127.0.0.1:4566' } });

    // Assess
    expect(clients.ssm().config.isCustomEndpoint).toBe(true);
    expect(await clients.ssm().config.endpoint?.()).toMatchObject({ hostname: '127.0.0.1', port: 4566 });
    expect(clients.ec2().config.isCustomEndpoint).toBe(false);
    expect(clients.ec2().config.endpoint).toBeUndefined();
  });

  it('gives every service an endpoint when each is named', () => {
    // Prepare
    const endpoints = Object.fromEntries(AWS_SERVICES.map((service) => [service, 'http://127.0.0.1:4566']));

    // Act
    const clients = awsClients({ defaultRegion: 'eu-west-1', endpoints });

    // Assess
    for (const service of AWS_SERVICES)
      expect(clients[service]().config.isCustomEndpoint, service).toBe(true);
  });

  it('refuses an unknown service or an endpoint that is not an http(s) URL, naming it', () => {
    // Act
    const typo = () => awsClients({ endpoints: { sssm: 'http://127.0.0.1:1' } as never });
    const notUrl = () => awsClients({ endpoints: { ec2: '127.0.0.1:4566' } });

    // Assess
    expect(typo).toThrow(RunbookAutopilotError);
    expect(typo).toThrow(
      'AWS client endpoints: unknown service "sssm"; the services are cloudWatch, logs, ssm',
    );
    expect(notUrl).toThrow(
      'AWS client endpoints.ec2: "127.0.0.1:4566" is not an http(s) URL such as http://127.0.0.1:4566',
    );
  });

  it('takes endpoints and credentials through the tool registry on the embedded platform only', () => {
    // Prepare
    const aws = {
      endpoints: { ssm: 'http://127.0.0.1:4566' },
      credentials: { accessKeyId: 'AKIDDEMOTARGET', secretAccessKey: 'not-a-secret' },
    };

    // Act
    const local = createToolRegistry(toolRuntime({ runtime: 'local' }), { aws });
    const onAws = () => createToolRegistry(toolRuntime({ runtime: 'aws' }), { aws });

    // Assess
    expect(local.get('ssm.run-command')?.declaration.name).toBe('ssm.run-command');
    expect(onAws).toThrow(
      'AWS client endpoints and credentials are for the embedded platform only; on AWS the tools use the Lambda role',
    );
  });
});
