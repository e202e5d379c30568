import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { awsClients } from '../../../../functions/tools/aws/clients.ts';

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
});
