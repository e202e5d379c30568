import { copyFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage, type Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Architecture, type IDestination, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CATALOG_FILE } from '../../functions/core/runbook/catalog.ts';
import {
  BUNDLE_AWS_SDK_CONTEXT,
  BUNDLE_ENTRY_FILE,
  bundleAwsSdkFrom,
  bundleLambda,
} from './bundling-options.ts';

/** The repository root: handlers, the lockfile and statemachines/ are resolved from it. */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The Lambda entries in functions/lambda/ (each exports `handler`, built from functions/handlers/ on first use). */
export const HandlerEntry = {
  Ingest: 'ingest',
  Classifier: 'classifier',
  StepRunner: 'step-runner',
  ApprovalRequest: 'approval-request',
  ApprovalWeb: 'approval-web',
  Control: 'control',
  LearningRecorder: 'learning-recorder',
} as const;
export type HandlerEntry = (typeof HandlerEntry)[keyof typeof HandlerEntry];

export const LAMBDA_RUNTIME = Runtime.NODEJS_22_X;
export const LAMBDA_ARCHITECTURE = Architecture.ARM_64;

export interface HandlerFunctionProps {
  entry: HandlerEntry;
  description: string;
  environment: Record<string, string>;
  timeout: Duration;
  memorySize: number;
  logLevel: string;
  logRetention: logs.RetentionDays;
  removalPolicy: RemovalPolicy;
  /** Asynchronous invocations (EventBridge targets): retries and where a failed event goes. */
  async?: { retryAttempts: number; maxEventAge: Duration; onFailure: IDestination };
  /** Run in these subnets of a VPC with these security groups (imported: nothing is created). */
  vpc?: FunctionNetwork;
  /** At most this many instances at once, reserved from the account's pool (public endpoints). */
  reservedConcurrency?: number;
  /**
   * A file copied next to the bundle as runbooks.json (the runbook catalog): the function reads it on
   * first use, so the catalog is data in the asset rather than code parsed at every cold start.
   */
  runbookCatalog?: string;
}

export interface FunctionNetwork {
  vpc: ec2.IVpc;
  subnets: ec2.ISubnet[];
  securityGroups: ec2.ISecurityGroup[];
}

/**
 * What Lambda needs in the execution role to attach a function to a VPC (its Hyperplane network
 * interfaces): the actions of the AWS managed policy AWSLambdaVPCAccessExecutionRole, granted inline
 * because the role is the function's own and managed policies are not used here.
 */
export const VPC_NETWORK_INTERFACE_ACTIONS = [
  'ec2:AssignPrivateIpAddresses',
  'ec2:CreateNetworkInterface',
  'ec2:DeleteNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:UnassignPrivateIpAddresses',
] as const;

/** Why those actions are on `*` (carried into the cdk-nag acknowledgement). */
export const VPC_NETWORK_INTERFACE_REASON =
  "VPC access (network.vpcId): Lambda creates and deletes the function's network interfaces with the execution role, and the Lambda documentation requires ec2:DescribeNetworkInterfaces on all resources; the interface ids are made by Lambda at run time, so the ENI actions (the inline equivalent of AWSLambdaVPCAccessExecutionRole) cannot name them";

/**
 * One Lambda function from functions/lambda/<entry>.ts (its handler in functions/handlers/): bundled
 * by esbuild (code-split, minified, source maps, the runtime's AWS SDK unless the CDK context sets
 * bundleAwsSdk), arm64 on nodejs22.x,
 * X-Ray tracing, its own log group and its own role that starts with nothing but writing to that log group.
 */
export class HandlerFunction extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  /** Whether the function runs in a VPC (its role then holds VPC_NETWORK_INTERFACE_ACTIONS). */
  readonly inVpc: boolean;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${Stack.of(this).stackName} ${id}: ${props.description}`.slice(0, 1000),
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    this.inVpc = props.vpc !== undefined;
    if (props.vpc) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'VpcNetworkInterfaces',
          actions: [...VPC_NETWORK_INTERFACE_ACTIONS],
          resources: ['*'],
        }),
      );
    }
    const entry = join(PROJECT_ROOT, 'functions', 'lambda', `${props.entry}.ts`);
    const catalog = props.runbookCatalog;
    const bundleAwsSdk = bundleAwsSdkFrom(this.node.tryGetContext(BUNDLE_AWS_SDK_CONTEXT));
    this.function = new lambda.Function(this, 'Function', {
      // Bundled locally by esbuild (no Docker), code-split: see bundling-options.ts. Hashed by output.
      code: lambda.Code.fromAsset(PROJECT_ROOT, {
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          image: DockerImage.fromRegistry('dummy'),
          // What CDK keys its bundle cache on (the local bundling below is a function it cannot compare):
          // without these, every function would get the first one's bundle. Docker never runs.
          environment: {
            RUNBOOK_AUTOPILOT_BUNDLE_ENTRY: relative(PROJECT_ROOT, entry),
            RUNBOOK_AUTOPILOT_BUNDLE_CATALOG: catalog ?? '',
            RUNBOOK_AUTOPILOT_BUNDLE_AWS_SDK: String(bundleAwsSdk),
          },
          local: {
            tryBundle(outputDir: string): boolean {
              bundleLambda(entry, outputDir, { bundleAwsSdk });
              if (catalog) copyFileSync(catalog, join(outputDir, CATALOG_FILE));
              return true;
            },
          },
        },
      }),
      handler: `${BUNDLE_ENTRY_FILE.replace(/\.mjs$/, '')}.handler`,
      description: props.description,
      runtime: LAMBDA_RUNTIME,
      architecture: LAMBDA_ARCHITECTURE,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      tracing: Tracing.ACTIVE,
      environment: {
        ...props.environment,
        POWERTOOLS_LOG_LEVEL: props.logLevel,
        // Stack traces in the logs point into functions/, not into the minified bundle.
        NODE_OPTIONS: '--enable-source-maps',
      },
      ...(props.vpc
        ? {
            vpc: props.vpc.vpc,
            vpcSubnets: { subnets: props.vpc.subnets },
            securityGroups: props.vpc.securityGroups,
          }
        : {}),
      ...(props.reservedConcurrency === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrency }),
      ...(props.async
        ? {
            retryAttempts: props.async.retryAttempts,
            maxEventAge: props.async.maxEventAge,
            onFailure: props.async.onFailure,
          }
        : {}),
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is the runtime this project targets and tests (DESIGN.md: the Lambda runtime is nodejs22.x, a supported LTS); moving to a newer major is a deliberate upgrade, not a side effect of a deploy.',
    });
  }
}

export function retainedWhen(protect: boolean): RemovalPolicy {
  return protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
}
