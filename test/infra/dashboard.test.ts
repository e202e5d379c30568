import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiAuthConfig } from '../../functions/core/api-access.ts';
import { rollbackStateMachine } from '../../functions/core/rollback/machine.ts';
import {
  ENVIRONMENTS_CONTEXT_KEY,
  EnvironmentConfigError,
  parseEnvironments,
} from '../../infra/config/load.ts';
import { dashboardFiles } from '../../infra/constructs/dashboard-assets.ts';
import type { RunbookAutopilotStack } from '../../infra/stacks/runbook-autopilot-stack.ts';
import {
  CDK_JSON,
  type Json,
  logicalIdOf,
  propertiesOf,
  removeOutput,
  resourcesOf,
  runNag,
  type Synthesized,
  synthesize,
} from './support.ts';

/**
 * The dashboard on AWS, by synth assertions: its distribution (private bucket behind CloudFront with
 * origin access control, HTTPS, security headers), its sign-in (a Cognito user pool, optionally
 * federating the organization's OIDC or SAML provider) and the per-group authorization of the control
 * API behind it; and the rollback machine next to the runbooks' machines.
 */

const ENVIRONMENTS = CDK_JSON.context[ENVIRONMENTS_CONTEXT_KEY] as Record<string, Json>;
const NAMES = ['dev', 'staging', 'prod'] as const;

let synthesized: Synthesized;

function templateOf(stack: { stackName: string }): Template {
  const assembly = synthesized.app.synth();
  return Template.fromJSON(assembly.getStackByName(stack.stackName).template as Json);
}

function platform(environment: string): RunbookAutopilotStack {
  return synthesized.stacks.find((stack) => stack.environmentName === environment)!;
}

function only(template: Template, type: string): Json {
  const resources = Object.values(resourcesOf(template, type));
  expect(resources, type).toHaveLength(1);
  return propertiesOf(resources[0]!);
}

/** cdk.json with one change to staging's dashboard, synthesized for staging alone. */
function synthesizeStaging(dashboard: Json): Synthesized {
  const environments = structuredClone(ENVIRONMENTS);
  environments.staging!.dashboard = dashboard;
  return synthesize({ context: { env: 'staging', [ENVIRONMENTS_CONTEXT_KEY]: environments } });
}

beforeAll(() => {
  synthesized = synthesize();
}, 300_000);

afterAll(() => removeOutput(synthesized));

describe.each(NAMES)('the %s dashboard', (environment) => {
  it('is a stack of its own next to the platform, in the same account and region', () => {
    const stack = platform(environment).dashboard!;
    expect(stack.stackName).toBe(`runbook-autopilot-${environment}-dashboard`);
    expect(stack.account).toBe(platform(environment).account);
    expect(stack.region).toBe(platform(environment).region);
    expect(stack.dependencies.map((dependency) => dependency.stackName)).toEqual([
      `runbook-autopilot-${environment}`,
    ]);
  });

  describe('distribution', () => {
    it('serves a private bucket through CloudFront with origin access control, never publicly', () => {
      const stack = platform(environment).dashboard!;
      const template = templateOf(stack);
      const site = logicalIdOf(stack.siteBucket);
      const bucket = propertiesOf(resourcesOf(template, 'AWS::S3::Bucket')[site]!);
      expect(bucket.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.LoggingConfiguration).toMatchObject({ LogFilePrefix: 's3/' });
      expect(only(template, 'AWS::CloudFront::OriginAccessControl')).toMatchObject({
        OriginAccessControlConfig: {
          OriginAccessControlOriginType: 's3',
          SigningBehavior: 'always',
          SigningProtocol: 'sigv4',
        },
      });
      const distribution = only(template, 'AWS::CloudFront::Distribution').DistributionConfig as Json;
      const s3Origin = (distribution.Origins as Json[]).find((origin) => origin.S3OriginConfig)!;
      expect(s3Origin.OriginAccessControlId).toBeDefined();
      expect(s3Origin.S3OriginConfig).toEqual({ OriginAccessIdentity: '' });
      // Only CloudFront, for this distribution, may read it; and only over TLS
      const policy = propertiesOf(
        Object.values(resourcesOf(template, 'AWS::S3::BucketPolicy')).find(
          (candidate) => (propertiesOf(candidate).Bucket as Json).Ref === site,
        )!,
      ).PolicyDocument as { Statement: Json[] };
      expect(policy.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'cloudfront.amazonaws.com' },
          Action: 's3:GetObject',
          Condition: { StringEquals: { 'AWS:SourceArn': expect.anything() } },
        }),
      );
      expect(policy.Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    });

    it('HTTPS only, the page’s routes answered with index.html, /api/* uncached to the control API', () => {
      const stack = platform(environment).dashboard!;
      const template = templateOf(stack);
      const distribution = only(template, 'AWS::CloudFront::Distribution').DistributionConfig as Json;
      expect(distribution.DefaultRootObject).toBe('index.html');
      expect(distribution.Logging).toMatchObject({ Prefix: 'cloudfront/' });
      const page = distribution.DefaultCacheBehavior as Json;
      expect(page.ViewerProtocolPolicy).toBe('redirect-to-https');
      expect(page.FunctionAssociations).toEqual([
        { EventType: 'viewer-request', FunctionARN: expect.anything() },
      ]);
      const [api] = distribution.CacheBehaviors as Json[];
      expect(api).toMatchObject({
        PathPattern: '/api/*',
        ViewerProtocolPolicy: 'https-only',
        AllowedMethods: expect.arrayContaining(['GET', 'POST']),
        // Managed policies: CachingDisabled, AllViewerExceptHostHeader (Authorization goes on)
        CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
        OriginRequestPolicyId: 'b689b0a8-53d0-40ab-baf2-68738e2966ac',
      });
      const apiOrigin = (distribution.Origins as Json[]).find((origin) => origin.Id === api!.TargetOriginId)!;
      expect(apiOrigin.CustomOriginConfig).toMatchObject({
        OriginProtocolPolicy: 'https-only',
        OriginSSLProtocols: ['TLSv1.2'],
      });
      expect(JSON.stringify(apiOrigin.DomainName)).toContain(logicalIdOf(stack.api));
      // The router leaves files alone and sends every other path to the page
      const router = only(template, 'AWS::CloudFront::Function');
      const code = String(router.FunctionCode);
      const route = new Function('event', `${code}; return handler(event);`) as (event: Json) => {
        uri: string;
      };
      expect(route({ request: { uri: '/executions/abc' } }).uri).toBe('/index.html');
      expect(route({ request: { uri: '/' } }).uri).toBe('/index.html');
      expect(route({ request: { uri: '/assets/dashboard.js' } }).uri).toBe('/assets/dashboard.js');
      expect(route({ request: { uri: '/dashboard-config.json' } }).uri).toBe('/dashboard-config.json');
    });

    it('sends security headers: a CSP allowing only itself and the sign-in domain, HSTS, no framing, no sniffing', () => {
      const stack = platform(environment).dashboard!;
      const headers = (
        only(templateOf(stack), 'AWS::CloudFront::ResponseHeadersPolicy').ResponseHeadersPolicyConfig as Json
      ).SecurityHeadersConfig as Json;
      expect(headers).toMatchObject({
        StrictTransportSecurity: {
          AccessControlMaxAgeSec: 63_072_000,
          IncludeSubdomains: true,
          Preload: true,
        },
        FrameOptions: { FrameOption: 'DENY' },
        ContentTypeOptions: { Override: true },
        ReferrerPolicy: { ReferrerPolicy: 'no-referrer' },
      });
      const csp = String((headers.ContentSecurityPolicy as Json).ContentSecurityPolicy);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain(`connect-src 'self' ${stack.signInDomain}`);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(stack.signInDomain).toBe(
        `https://runbook-autopilot-${environment}-${platform(environment).account}.auth.${platform(environment).region}.amazoncognito.com`,
      );
    });

    it('uploads the embedded platform’s own page and a config naming the sign-in, and invalidates the cache', () => {
      const stack = platform(environment).dashboard!;
      const template = templateOf(stack);
      const deployment = only(template, 'Custom::CDKBucketDeployment');
      expect(deployment).toMatchObject({
        DestinationBucketName: { Ref: logicalIdOf(stack.siteBucket) },
        Prune: true,
        DistributionPaths: ['/*'],
        SystemMetadata: { 'cache-control': 'no-cache' },
      });
      expect(deployment.SourceObjectKeys as unknown[]).toHaveLength(2);
      // The staged page: the same bytes `npm start` serves
      const staged = readdirSync(synthesized.outdir)
        .map((name) => join(synthesized.outdir, name))
        .find((dir) => existsSync(join(dir, 'assets', 'dashboard.js')))!;
      for (const [path, source] of Object.entries(dashboardFiles()))
        expect(readFileSync(join(staged, path)).equals(readFileSync(source)), path).toBe(true);
      const config = JSON.stringify(deployment.SourceMarkers ?? deployment);
      expect(config).toContain(logicalIdOf(stack.client));
    });
  });

  describe('sign-in', () => {
    it('a Cognito user pool: invited people only, MFA required, a strong password, threat protection', () => {
      const stack = platform(environment).dashboard!;
      const pool = only(templateOf(stack), 'AWS::Cognito::UserPool');
      expect(pool).toMatchObject({
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
        MfaConfiguration: 'ON',
        EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
        UserPoolTier: 'PLUS',
        UserPoolAddOns: { AdvancedSecurityMode: 'ENFORCED' },
        Policies: {
          PasswordPolicy: {
            MinimumLength: 14,
            RequireLowercase: true,
            RequireUppercase: true,
            RequireNumbers: true,
            RequireSymbols: true,
          },
        },
      });
      expect(
        Object.values(resourcesOf(templateOf(stack), 'AWS::Cognito::UserPoolGroup'))
          .map((group) => propertiesOf(group).GroupName)
          .sort(),
      ).toEqual(['approvers', 'operators', 'viewers']);
    });

    it('the page’s app client: no secret, authorization code only, back to the distribution, Cognito users', () => {
      const stack = platform(environment).dashboard!;
      const client = only(templateOf(stack), 'AWS::Cognito::UserPoolClient');
      expect(client).toMatchObject({
        GenerateSecret: false,
        AllowedOAuthFlows: ['code'],
        AllowedOAuthFlowsUserPoolClient: true,
        AllowedOAuthScopes: ['openid', 'email', 'profile'],
        ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
        SupportedIdentityProviders: ['COGNITO'],
        PreventUserExistenceErrors: 'ENABLED',
        EnableTokenRevocation: true,
      });
      const callback = JSON.stringify(client.CallbackURLs);
      expect(callback).toContain(logicalIdOf(stack.distribution));
      expect(only(templateOf(stack), 'AWS::Cognito::UserPoolDomain').Domain).toBe(
        `runbook-autopilot-${environment}-${platform(environment).account}`,
      );
    });
  });

  describe('per-group authorization', () => {
    it('API Gateway lets only signed-in calls through: a JWT authorizer of the pool and the page’s client on every route', () => {
      const stack = platform(environment).dashboard!;
      const template = templateOf(stack);
      const authorizer = only(template, 'AWS::ApiGatewayV2::Authorizer');
      expect(authorizer).toMatchObject({
        AuthorizerType: 'JWT',
        IdentitySource: ['$request.header.Authorization'],
        JwtConfiguration: { Audience: [{ Ref: logicalIdOf(stack.client) }] },
      });
      expect(JSON.stringify((authorizer.JwtConfiguration as Json).Issuer)).toContain(
        logicalIdOf(stack.userPool),
      );
      const routes = Object.values(resourcesOf(template, 'AWS::ApiGatewayV2::Route')).map(propertiesOf);
      expect(routes.map((route) => route.RouteKey).sort()).toEqual([
        'GET /api/{proxy+}',
        'POST /api/{proxy+}',
      ]);
      for (const route of routes) expect(route.AuthorizationType).toBe('JWT');
      // Throttled, access-logged, and integrated with the platform's control function only
      expect(only(template, 'AWS::ApiGatewayV2::Stage')).toMatchObject({
        StageName: '$default',
        DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
        AccessLogSettings: { DestinationArn: expect.anything(), Format: expect.any(String) },
      });
      const integration = only(template, 'AWS::ApiGatewayV2::Integration');
      expect(integration).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
      expect(JSON.stringify(integration.IntegrationUri)).toContain('ExportsOutput');
      expect(JSON.stringify(integration.IntegrationUri)).toContain(
        logicalIdOf(platform(environment).functions.control.function),
      );
    });

    it('the control function checks tokens against the parameter this stack writes: the groups give the roles', () => {
      const stack = platform(environment).dashboard!;
      const parameter = only(templateOf(stack), 'AWS::SSM::Parameter');
      expect(parameter.Name).toBe(`/runbook-autopilot/${environment}/api-auth`);
      const value = JSON.parse(
        JSON.stringify(parameter.Value).replace(/\{[^{}]*"Ref":"([^"]+)"[^{}]*\}/g, '"<$1>"'),
      );
      const rendered = typeof value === 'string' ? value : JSON.stringify(value);
      const auth = ApiAuthConfig.parse(stack.apiAuth);
      expect(auth).toMatchObject({
        groupsClaims: ['cognito:groups'],
        roles: { viewers: ['viewers'], approvers: ['approvers'], operators: ['operators'] },
        tokenUse: 'id',
      });
      expect(rendered).toContain('cognito:groups');
      // The platform's control function reads exactly that parameter, and nothing else of SSM
      const core = platform(environment);
      const coreTemplate = synthesized.templates[environment]!;
      const control = propertiesOf(
        resourcesOf(coreTemplate, 'AWS::Lambda::Function')[logicalIdOf(core.functions.control.function)]!,
      );
      expect((control.Environment as Json).Variables).toMatchObject({
        RUNBOOK_AUTOPILOT_API_AUTH_PARAMETER: `/runbook-autopilot/${environment}/api-auth`,
      });
      const controlRole = logicalIdOf(core.functions.control.role);
      const ssm = Object.values(resourcesOf(coreTemplate, 'AWS::IAM::Policy'))
        .filter((policy) => (propertiesOf(policy).Roles as Json[]).some((role) => role.Ref === controlRole))
        .flatMap((policy) => (propertiesOf(policy).PolicyDocument as { Statement: Json[] }).Statement)
        .filter((statement) => String(statement.Action).startsWith('ssm:'));
      expect(ssm).toEqual([
        expect.objectContaining({
          Action: 'ssm:GetParameter',
          Resource: `arn:aws:ssm:${core.region}:${core.account}:parameter/runbook-autopilot/${environment}/api-auth`,
        }),
      ]);
    });
  });

  it('passes cdk-nag AwsSolutions: no unacknowledged finding, every acknowledgement used and explained', () => {
    const nag = runNag(platform(environment).dashboard!);
    expect(nag.violations).toEqual([]);
    const ours = nag.acknowledgements.filter((acknowledgement) =>
      acknowledgement.id.startsWith('AwsSolutions-'),
    );
    expect(ours.filter((acknowledgement) => !acknowledgement.used)).toEqual([]);
    for (const acknowledgement of ours) expect(acknowledgement.reason.length).toBeGreaterThan(40);
  });
});

describe('the rollback machine', () => {
  it.each(NAMES)(
    '%s: one Standard machine next to the runbooks’, its definition as compiled, invoking only its functions',
    (environment) => {
      const core = platform(environment);
      const template = synthesized.templates[environment]!;
      const machine = propertiesOf(
        Object.values(resourcesOf(template, 'AWS::StepFunctions::StateMachine')).find(
          (resource) =>
            propertiesOf(resource).StateMachineName === `runbook-autopilot-${environment}-Rollback`,
        )!,
      );
      expect(machine.StateMachineType).toBe('STANDARD');
      expect(machine.TracingConfiguration).toEqual({ Enabled: true });
      expect(JSON.parse(String(machine.DefinitionString))).toEqual(rollbackStateMachine());
      const substituted = Object.fromEntries(
        Object.entries(machine.DefinitionSubstitutions as Json).map(([name, value]) => [
          name,
          (value as Json)['Fn::GetAtt'],
        ]),
      );
      expect(substituted).toEqual({
        StepRunnerReadOnlyArn: [logicalIdOf(core.functions.stepRunnerReadOnly.function), 'Arn'],
        StepRunnerMutatingArn: [logicalIdOf(core.functions.stepRunnerMutating.function), 'Arn'],
        ApprovalRequestArn: [logicalIdOf(core.functions.approvalRequest.function), 'Arn'],
      });
    },
  );
});

describe('dashboard configuration in cdk.json', () => {
  it('federates an OIDC provider: its client secret from Secrets Manager, its groups in custom:groups, only it signs in', () => {
    // Act
    const federated = synthesizeStaging({
      identityProvider: {
        type: 'oidc',
        name: 'Corp-SSO',
        issuer: 'https://login.example.com/oauth2/default',
        clientId: 'runbook-autopilot',
        clientSecretName: 'runbook-autopilot/staging/oidc-client-secret',
        groupsClaim: 'groups',
      },
      groups: { operators: ['sre'], approvers: ['sre-leads'], viewers: ['engineering'] },
    });
    try {
      const stack = federated.stacks[0]!.dashboard!;
      const template = Template.fromJSON(
        federated.app.synth().getStackByName(stack.stackName).template as Json,
      );

      // Assess
      const provider = only(template, 'AWS::Cognito::UserPoolIdentityProvider');
      expect(provider).toMatchObject({
        ProviderName: 'Corp-SSO',
        ProviderType: 'OIDC',
        AttributeMapping: { email: 'email', 'custom:groups': 'groups' },
        ProviderDetails: {
          client_id: 'runbook-autopilot',
          client_secret:
            '{{resolve:secretsmanager:runbook-autopilot/staging/oidc-client-secret:SecretString:::}}',
          oidc_issuer: 'https://login.example.com/oauth2/default',
        },
      });
      expect(only(template, 'AWS::Cognito::UserPoolClient').SupportedIdentityProviders).toEqual([
        { Ref: logicalIdOf(stack.node.findChild('Organization')) },
      ]);
      expect(only(template, 'AWS::Cognito::UserPool').Schema).toContainEqual(
        expect.objectContaining({ Name: 'groups', AttributeDataType: 'String', Mutable: true }),
      );
      expect(stack.apiAuth).toMatchObject({
        groupsClaims: ['cognito:groups', 'custom:groups'],
        roles: {
          viewers: ['viewers', 'engineering'],
          approvers: ['approvers', 'sre-leads'],
          operators: ['operators', 'sre'],
        },
      });
      template.hasResourceProperties('AWS::SSM::Parameter', { Value: Match.anyValue() });
    } finally {
      removeOutput(federated);
    }
  });

  it('federates a SAML provider by its metadata URL; a custom domain gets TLSv1.2_2021 and its certificate', () => {
    const federated = synthesizeStaging({
      identityProvider: {
        type: 'saml',
        name: 'Corp-AD',
        metadataUrl: 'https://adfs.example.com/FederationMetadata/2007-06/FederationMetadata.xml',
        groupsAttribute: 'http://schemas.xmlsoap.org/claims/Group',
      },
      domainName: 'runbooks.example.com',
      certificateArn: 'arn:aws:acm:us-east-1:222222222222:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789abc',
      allowedCountries: ['DE', 'FR'],
    });
    try {
      const stack = federated.stacks[0]!.dashboard!;
      const template = Template.fromJSON(
        federated.app.synth().getStackByName(stack.stackName).template as Json,
      );
      expect(only(template, 'AWS::Cognito::UserPoolIdentityProvider')).toMatchObject({
        ProviderType: 'SAML',
        ProviderDetails: {
          MetadataURL: 'https://adfs.example.com/FederationMetadata/2007-06/FederationMetadata.xml',
        },
        AttributeMapping: { 'custom:groups': 'http://schemas.xmlsoap.org/claims/Group' },
      });
      const distribution = only(template, 'AWS::CloudFront::Distribution').DistributionConfig as Json;
      expect(distribution).toMatchObject({
        Aliases: ['runbooks.example.com'],
        ViewerCertificate: {
          AcmCertificateArn:
            'arn:aws:acm:us-east-1:222222222222:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789abc',
          MinimumProtocolVersion: 'TLSv1.2_2021',
          SslSupportMethod: 'sni-only',
        },
        Restrictions: { GeoRestriction: { RestrictionType: 'whitelist', Locations: ['DE', 'FR'] } },
      });
      expect(only(template, 'AWS::Cognito::UserPoolClient').CallbackURLs).toEqual([
        'https://runbooks.example.com/',
      ]);
      const nag = runNag(stack);
      expect(nag.violations).toEqual([]);
      expect(
        nag.acknowledgements.filter((entry) => entry.id.startsWith('AwsSolutions-') && !entry.used),
      ).toEqual([]);
    } finally {
      removeOutput(federated);
    }
  });

  it('enabled: false deploys no dashboard; a half-given custom domain or a bad provider is refused with its field', () => {
    const off = synthesizeStaging({ enabled: false });
    try {
      expect(off.stacks[0]!.dashboard).toBeUndefined();
      expect(off.app.synth().stacks.map((stack) => stack.stackName)).toEqual(['runbook-autopilot-staging']);
    } finally {
      removeOutput(off);
    }
    const refused = (dashboard: Json) => {
      const environments = structuredClone(ENVIRONMENTS);
      environments.prod!.dashboard = dashboard;
      try {
        parseEnvironments(environments);
      } catch (error) {
        expect(error).toBeInstanceOf(EnvironmentConfigError);
        return (error as Error).message;
      }
      throw new Error('expected a refusal');
    };
    expect(refused({ domainName: 'runbooks.example.com' })).toContain(
      'prod.dashboard: give both domainName and certificateArn, or neither',
    );
    expect(
      refused({ certificateArn: 'arn:aws:acm:eu-west-1:1:certificate/x', domainName: 'a.example.com' }),
    ).toContain('prod.dashboard.certificateArn: must be an ACM certificate ARN in us-east-1');
    expect(
      refused({
        identityProvider: {
          type: 'oidc',
          name: 'Okta',
          issuer: 'http://insecure.example.com',
          clientId: 'c',
          clientSecretName: 's',
        },
      }),
    ).toContain('prod.dashboard.identityProvider.issuer: must be the https issuer URL of the provider');
    expect(refused({ signInDomainPrefix: 'my-cognito-login' })).toContain(
      'prod.dashboard.signInDomainPrefix: must not contain aws, amazon or cognito',
    );
  });
});
