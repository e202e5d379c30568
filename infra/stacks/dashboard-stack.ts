import {
  CfnOutput,
  type CfnResource,
  Duration,
  Fn,
  RemovalPolicy,
  SecretValue,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { type ApiAuthConfig, ApiRole } from '../../functions/core/api-access.ts';
import type { EnvironmentConfig } from '../config/environment.ts';
import {
  type DashboardSiteConfig,
  dashboardContentSecurityPolicy,
  stageDashboard,
} from '../constructs/dashboard-assets.ts';
import { retainedWhen } from '../constructs/handler-function.ts';
import { apiAuthParameterName, type RunbookAutopilotStack } from './runbook-autopilot-stack.ts';

export interface DashboardStackProps extends StackProps {
  environmentName: string;
  config: EnvironmentConfig;
  /** The environment's platform: its control function answers the dashboard's calls. */
  platform: RunbookAutopilotStack;
}

/** The claim a federated person's groups arrive in (mapped from the provider's groups). */
export const FEDERATED_GROUPS_CLAIM = 'custom:groups';

/** Paths without a file extension are the page's own routes: CloudFront answers them with index.html. */
export const SPA_ROUTER_CODE = `function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.lastIndexOf('.') <= uri.lastIndexOf('/')) request.uri = '/index.html';
  return request;
}`;

/**
 * The dashboard of one environment on AWS: the page `npm start` serves, as a static site in a private
 * S3 bucket behind CloudFront (origin access control, HTTPS only, security headers), the control API
 * behind the same origin (`/api/*` → API Gateway HTTP API → the control function), and sign-in with a
 * Cognito user pool, itself federating the organization's OIDC or SAML provider when cdk.json names
 * one. API Gateway's JWT authorizer lets only signed-in calls through; the control function verifies
 * the token again and allows each route by group (viewers, approvers, operators).
 */
export class DashboardStack extends Stack {
  readonly userPool: cognito.UserPool;
  readonly client: cognito.UserPoolClient;
  readonly distribution: cloudfront.Distribution;
  readonly api: apigw.HttpApi;
  readonly siteBucket: s3.Bucket;
  readonly signInDomain: string;
  readonly siteUrl: string;
  readonly apiAuth: ApiAuthConfig;

  constructor(scope: Construct, id: string, props: DashboardStackProps) {
    const { config, environmentName: name, platform } = props;
    super(scope, id, {
      ...props,
      env: { account: config.account, region: config.region },
      description: `runbook-autopilot (${name}): the dashboard, its sign-in and the control API behind it`,
      terminationProtection: config.protectData,
    });
    const dashboard = config.dashboard;
    const removalPolicy = retainedWhen(config.protectData);

    // ----------------------------------------------------------------------------------- sign-in
    const federated = dashboard.identityProvider;
    this.userPool = new cognito.UserPool(this, 'Users', {
      userPoolName: `runbook-autopilot-${name}`,
      // People are invited (or come from the organization's provider): nobody signs themselves up.
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      autoVerify: { email: true },
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 14,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      featurePlan: cognito.FeaturePlan.PLUS,
      standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
      ...(federated
        ? { customAttributes: { groups: new cognito.StringAttribute({ maxLen: 2048, mutable: true }) } }
        : {}),
      deletionProtection: config.protectData,
      removalPolicy,
    });
    for (const [index, role] of ApiRole.options.entries()) {
      new cognito.CfnUserPoolGroup(this, `Group-${role}`, {
        userPoolId: this.userPool.userPoolId,
        groupName: role,
        precedence: index,
        description: {
          viewers: 'Sees executions, approvals, learning and rollbacks; changes nothing',
          approvers: 'Viewers, and decides approvals they are named in',
          operators:
            'Viewers, and pauses, resumes, aborts, starts by hand, rolls back, engages the kill switch',
        }[role],
      });
    }
    let provider: cognito.UserPoolIdentityProviderOidc | cognito.UserPoolIdentityProviderSaml | undefined;
    if (federated?.type === 'oidc') {
      provider = new cognito.UserPoolIdentityProviderOidc(this, 'Organization', {
        userPool: this.userPool,
        name: federated.name,
        issuerUrl: federated.issuer,
        clientId: federated.clientId,
        // A dynamic reference: CloudFormation reads it from Secrets Manager, the template never holds it.
        clientSecret: SecretValue.secretsManager(federated.clientSecretName).unsafeUnwrap(),
        scopes: federated.scopes,
        attributeRequestMethod: cognito.OidcAttributeRequestMethod.GET,
        attributeMapping: {
          email: cognito.ProviderAttribute.other('email'),
          custom: { [FEDERATED_GROUPS_CLAIM]: cognito.ProviderAttribute.other(federated.groupsClaim) },
        },
      });
    } else if (federated?.type === 'saml') {
      provider = new cognito.UserPoolIdentityProviderSaml(this, 'Organization', {
        userPool: this.userPool,
        name: federated.name,
        metadata: cognito.UserPoolIdentityProviderSamlMetadata.url(federated.metadataUrl),
        attributeMapping: {
          email: cognito.ProviderAttribute.other(
            'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
          ),
          custom: { [FEDERATED_GROUPS_CLAIM]: cognito.ProviderAttribute.other(federated.groupsAttribute) },
        },
      });
    }
    const domainPrefix = dashboard.signInDomainPrefix ?? `runbook-autopilot-${name}-${config.account}`;
    this.userPool.addDomain('SignIn', { cognitoDomain: { domainPrefix } });
    this.signInDomain = `https://${domainPrefix}.auth.${config.region}.amazoncognito.com`;

    // ----------------------------------------------------------------------------------- storage and logs
    const logBucket = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // S3 delivers server access logs under a bucket policy; no ACLs.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(config.retention.logDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const cdnLogBucket = new s3.Bucket(this, 'CdnLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // CloudFront's standard logs arrive with an ACL grant of their own: the bucket must allow ACLs.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      serverAccessLogsBucket: logBucket,
      serverAccessLogsPrefix: 'cdn-logs/',
      lifecycleRules: [{ expiration: Duration.days(config.retention.logDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.siteBucket = new s3.Bucket(this, 'Site', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: logBucket,
      serverAccessLogsPrefix: 's3/',
      // The page is rebuilt from the repository on every deploy: nothing in it needs keeping.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // ----------------------------------------------------------------------------------- the control API
    const apiLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: config.retention.logDays as logs.RetentionDays,
      removalPolicy,
    });
    this.api = new apigw.HttpApi(this, 'Api', {
      apiName: `runbook-autopilot-${name}`,
      description: 'The control API for the dashboard: signed-in calls only',
      createDefaultStage: false,
    });
    new apigw.HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: dashboard.apiRateLimit, burstLimit: dashboard.apiRateLimit * 2 },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(apiLogs),
      },
    });

    // ----------------------------------------------------------------------------------- the site
    const certificate = dashboard.certificateArn
      ? acm.Certificate.fromCertificateArn(this, 'Certificate', dashboard.certificateArn)
      : undefined;
    const headers = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: `runbook-autopilot ${name}: the dashboard's security headers`,
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: dashboardContentSecurityPolicy(this.signInDomain),
          override: true,
        },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(730),
          includeSubdomains: true,
          preload: true,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        xssProtection: { protection: true, modeBlock: true, override: true },
      },
    });
    const router = new cloudfront.Function(this, 'PageRoutes', {
      comment: 'Serves index.html for the page’s own routes (/executions/…, /runbooks…)',
      code: cloudfront.FunctionCode.fromInline(SPA_ROUTER_CODE),
      runtime: cloudfront.FunctionRuntime.JS_2_0,
    });
    const apiDomain = Fn.select(2, Fn.split('/', this.api.apiEndpoint));
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `runbook-autopilot ${name} dashboard`,
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.siteBucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
        functionAssociations: [{ function: router, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
        compress: true,
      },
      additionalBehaviors: {
        '/api/*': {
          origin: new origins.HttpOrigin(apiDomain, {
            protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
          }),
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
          // Never cached; every viewer header but Host goes on (Authorization included).
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          responseHeadersPolicy: headers,
        },
      },
      ...(certificate
        ? {
            certificate,
            domainNames: [dashboard.domainName!],
            minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
          }
        : {}),
      enableLogging: true,
      logBucket: cdnLogBucket,
      logFilePrefix: 'cloudfront/',
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      ...(dashboard.allowedCountries
        ? { geoRestriction: cloudfront.GeoRestriction.allowlist(...dashboard.allowedCountries) }
        : {}),
      ...(dashboard.webAclArn ? { webAclId: dashboard.webAclArn } : {}),
    });
    if (!dashboard.allowedCountries)
      Validations.of(this.distribution).acknowledge({
        id: 'AwsSolutions-CFR1',
        reason:
          'On-call people answer from wherever they are: every page and API call needs a sign-in instead (set dashboard.allowedCountries to restrict by country).',
      });
    if (!dashboard.webAclArn)
      Validations.of(this.distribution).acknowledge({
        id: 'AwsSolutions-CFR2',
        reason:
          'The site is static and every API call is authenticated twice (API Gateway’s JWT authorizer, then the function) and throttled; a CloudFront web ACL lives in us-east-1, so it is attached by ARN (dashboard.webAclArn).',
      });
    if (!certificate)
      Validations.of(this.distribution).acknowledge({
        id: 'AwsSolutions-CFR4',
        reason:
          'Served on its *.cloudfront.net name, whose certificate CloudFront manages: its minimum TLS version cannot be set. Set dashboard.domainName and certificateArn to serve it on your domain with TLSv1.2_2021.',
      });
    this.siteUrl = dashboard.domainName
      ? `https://${dashboard.domainName}`
      : `https://${this.distribution.distributionDomainName}`;

    // ----------------------------------------------------------------------------------- the app client
    this.client = this.userPool.addClient('Dashboard', {
      userPoolClientName: `runbook-autopilot-${name}-dashboard`,
      // A browser holds no secret: authorization code with PKCE only.
      generateSecret: false,
      authFlows: {
        user: false,
        userSrp: false,
        custom: false,
        adminUserPassword: false,
        userPassword: false,
      },
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
        callbackUrls: [`${this.siteUrl}/`],
        logoutUrls: [`${this.siteUrl}/`],
      },
      supportedIdentityProviders: provider
        ? [cognito.UserPoolClientIdentityProvider.custom(provider.providerName)]
        : [cognito.UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.hours(8),
      enableTokenRevocation: true,
    });
    if (provider) this.client.node.addDependency(provider);

    const issuer = `https://cognito-idp.${config.region}.amazonaws.com/${this.userPool.userPoolId}`;
    this.api.addRoutes({
      path: '/api/{proxy+}',
      methods: [apigw.HttpMethod.GET, apigw.HttpMethod.POST],
      integration: new HttpLambdaIntegration('Control', platform.functions.control.function),
      authorizer: new HttpJwtAuthorizer('SignedIn', issuer, {
        jwtAudience: [this.client.userPoolClientId],
        identitySource: ['$request.header.Authorization'],
      }),
    });

    // What the control function checks tokens against (it reads the parameter; no stack depends on the other both ways).
    this.apiAuth = {
      issuer,
      audience: this.client.userPoolClientId,
      groupsClaims: ['cognito:groups', ...(federated ? [FEDERATED_GROUPS_CLAIM] : [])],
      roles: {
        viewers: [...new Set(['viewers', ...dashboard.groups.viewers])],
        approvers: [...new Set(['approvers', ...dashboard.groups.approvers])],
        operators: [...new Set(['operators', ...dashboard.groups.operators])],
      },
      tokenUse: 'id',
    };
    new ssm.StringParameter(this, 'ApiAuth', {
      parameterName: apiAuthParameterName(name),
      description: `runbook-autopilot ${name}: how the control API checks the dashboard's sign-in`,
      stringValue: this.toJsonString(this.apiAuth),
    });

    // ----------------------------------------------------------------------------------- the page itself
    const siteConfig: DashboardSiteConfig = {
      embedded: false,
      environment: name,
      signIn: {
        authority: this.signInDomain,
        clientId: this.client.userPoolClientId,
        scopes: ['openid', 'email', 'profile'],
      },
    };
    const deployment = new s3deploy.BucketDeployment(this, 'Page', {
      sources: [
        s3deploy.Source.asset(stageDashboard()),
        s3deploy.Source.jsonData('dashboard-config.json', siteConfig),
      ],
      destinationBucket: this.siteBucket,
      distribution: this.distribution,
      distributionPaths: ['/*'],
      prune: true,
      // Names are not hashed: browsers revalidate every time (ETags keep it cheap).
      cacheControl: [s3deploy.CacheControl.noCache()],
      memoryLimit: 256,
    });
    const deployer =
      'CDK’s BucketDeployment (the custom resource that copies the page into the site bucket and invalidates CloudFront)';
    Validations.of(deployment.handlerRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: `${deployer}: its function writes its own logs with the basic execution role.`,
    });
    Validations.of(deployment.handlerRole).acknowledge({
      id: 'AwsSolutions-IAM5[Action::s3:GetObject*]',
      reason: `${deployer}: reads the page's staged asset objects (scoped to the CDK asset bucket).`,
    });
    const siteBucketId = this.getLogicalId(this.siteBucket.node.defaultChild as CfnResource);
    for (const finding of [
      'Action::s3:GetBucket*',
      'Action::s3:List*',
      'Action::s3:DeleteObject*',
      'Action::s3:Abort*',
      `Resource::<${siteBucketId}.Arn>/*`,
      `Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-${config.account}-${config.region}/*`,
      'Resource::*',
    ])
      Validations.of(deployment.handlerRole).acknowledge({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason: `${deployer}: CDK scopes it to the site bucket and the asset bucket; cloudfront:CreateInvalidation has no resource-level form it uses.`,
      });

    const deployerFunction = this.node.children.find((child) =>
      child.node.id.startsWith('Custom::CDKBucketDeployment'),
    );
    if (deployerFunction)
      Validations.of(deployerFunction).acknowledge({
        id: 'AwsSolutions-L1',
        reason: `${deployer}: CDK chooses its Python runtime with each aws-cdk-lib release; upgrading aws-cdk-lib upgrades it.`,
      });

    // ----------------------------------------------------------------------------------- outputs
    new CfnOutput(this, 'DashboardUrl', {
      value: `${this.siteUrl}/`,
      description: 'The dashboard (sign in there)',
    });
    new CfnOutput(this, 'SignInDomain', { value: this.signInDomain, description: 'Cognito’s sign-in pages' });
    new CfnOutput(this, 'UserPoolId', {
      value: this.userPool.userPoolId,
      description:
        'Add people: aws cognito-idp admin-create-user, then admin-add-user-to-group (viewers, approvers, operators)',
    });
    new CfnOutput(this, 'ApiEndpoint', {
      value: this.api.apiEndpoint,
      description: 'The HTTP API behind /api/*',
    });
  }
}
