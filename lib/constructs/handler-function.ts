import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENTRY_METADATA_KEY } from '../../contracts/cfn-metadata';
import { EnvNames } from '../../contracts/env-names';
import type { ServiceName } from '../../contracts/telemetry-names';
import type { StageConfig } from '../config/stage-config';
import { HANDLER_BUNDLING } from './bundling';
import { acknowledgeWildcardResource } from './nag-acknowledgement';

/** The repository root: entries are given relative to it, and it is what esbuild bundles from. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * What a function may do with a table. `readDelete` is for the broadcast, which prunes gone connections
 * (DeleteItem, or BatchWriteItem of deletes) but never writes rows. IAM cannot tell a BatchWriteItem of
 * deletes from one of puts, so that is as narrow as it gets.
 */
export type TableAccess = 'read' | 'readWrite' | 'readDelete' | 'readUpdate';

export interface BindTableOptions {
  /**
   * Global secondary indexes the function queries, by name: it gets dynamodb:Query on exactly these.
   * @default - none: no access to any index
   */
  readonly indexes?: readonly string[];
}

/**
 * The item actions behind each access level, spelled out instead of Table.grantReadData()/grantReadWriteData(),
 * which also grant Scan, the stream reads and DescribeTable (unused here: no function scans, and the stream
 * publisher gets its stream reads from its event source) and every index (`/index/*`). ConditionCheckItem
 * is what a TransactWriteItems condition needs.
 */
const READ_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
];
const DELETE_ACTIONS = ['dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];
const TABLE_ACTIONS: Readonly<Record<TableAccess, readonly string[]>> = {
  read: READ_ACTIONS,
  readWrite: [...READ_ACTIONS, 'dynamodb:PutItem', 'dynamodb:UpdateItem', ...DELETE_ACTIONS],
  readDelete: [...READ_ACTIONS, ...DELETE_ACTIONS],
  // The publishing paths read events and move each post's publish cursor; they create and delete nothing.
  readUpdate: [...READ_ACTIONS, 'dynamodb:UpdateItem'],
};

/** The only action that reads an index (Scan would too; nothing here scans). */
const INDEX_ACTIONS = ['dynamodb:Query'];

export interface HandlerFunctionProps {
  /** Module exporting `handler`, relative to the repository root, e.g. `lambda/broadcast/handler.ts`. */
  readonly entry: string;
  /** POWERTOOLS_SERVICE_NAME: names the function in its logs and the `service` dimension of its metrics. */
  readonly serviceName: ServiceName;
  readonly stageConfig: StageConfig;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /**
   * Actions some other construct grants this function on `*` (CDK merges them into the X-Ray statement),
   * with why they can have no narrower resource: named in the cdk-nag acknowledgement of that statement.
   * @default none: the `*` statement holds the X-Ray actions alone
   */
  readonly wildcardGrant?: { readonly actions: readonly string[]; readonly why: string };
  /**
   * Instances that may run at once, reserved out of the account's concurrency.
   * @default none reserved: the function shares the account's unreserved pool
   */
  readonly reservedConcurrency?: number;
  /** Extra environment; use {@link HandlerFunction.bindTable} for table names instead. */
  readonly environment?: Readonly<Record<string, string>>;
  readonly description?: string;
}

/**
 * The house Lambda function: Node.js 24 on ARM, bundled by the local esbuild (never Docker), an explicit log
 * group with the stage's retention, X-Ray active tracing, and a role that reaches that log group, X-Ray and
 * whatever is granted, nothing else (no AWSLambdaBasicExecutionRole and its `logs:*` on `*`).
 */
export class HandlerFunction extends Construct implements iam.IGrantable {
  readonly function: NodejsFunction;
  readonly serviceName: ServiceName;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
    if (path.isAbsolute(props.entry)) {
      throw new Error(`HandlerFunction entry must be relative to the repository root, got ${props.entry}`);
    }
    const { stageConfig } = props;
    this.serviceName = props.serviceName;

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: stageConfig.logRetention,
      removalPolicy: stageConfig.removalPolicy,
    });
    this.role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: path.join(REPO_ROOT, props.entry),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      // The latest Node.js runtime (cdk-nag AwsSolutions-L1). The bundle keeps target node22 (HANDLER_BUNDLING):
      // it needs nothing newer, and the local stack runs the very same bundle on the developer's Node.js.
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      description: props.description,
      ...(props.reservedConcurrency === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrency }),
      role: this.role,
      logGroup: this.logGroup,
      // Lambda samples and sends each traced invocation to X-Ray; Powertools Tracer (lambda/shared/telemetry.ts)
      // adds the handler, SDK call and fetch subsegments. Adds xray:PutTraceSegments and
      // xray:PutTelemetryRecords on `*` to the role, acknowledged below.
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        [EnvNames.stage]: stageConfig.stageName,
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        ...props.environment,
      },
      // The pinned AWS SDK goes into the bundle, minified and tree-shaken: see HANDLER_BUNDLING.
      bundling: { ...HANDLER_BUNDLING, mainFields: [...HANDLER_BUNDLING.mainFields] },
    });
    (this.function.node.defaultChild as lambda.CfnFunction).addMetadata(ENTRY_METADATA_KEY, props.entry);
    acknowledgeWildcardResource(
      this.role,
      '*',
      'X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level ' +
        'permissions (the X-Ray service authorization reference lists no resource types for them), so `*` ' +
        'is the only resource they can be granted on' +
        (props.wildcardGrant
          ? `; the statement also holds ${props.wildcardGrant.actions.join(', ')}: ${props.wildcardGrant.why}.`
          : '; the statement holds these two write-only actions alone.'),
    );
  }

  get grantPrincipal(): iam.IPrincipal {
    return this.function.grantPrincipal;
  }

  addEnvironment(name: string, value: string): this {
    this.function.addEnvironment(name, value);
    return this;
  }

  /**
   * Sets the table-name variable and the matching grant together, so neither can be forgotten. The grant
   * covers the table and the named indexes only.
   */
  bindTable(envName: string, table: ITable, access: TableAccess, options: BindTableOptions = {}): this {
    this.addEnvironment(envName, table.tableName);
    iam.Grant.addToPrincipal({
      grantee: this,
      actions: [...TABLE_ACTIONS[access]],
      resourceArns: [table.tableArn],
    });
    const indexes = options.indexes ?? [];
    if (indexes.length > 0) {
      iam.Grant.addToPrincipal({
        grantee: this,
        actions: INDEX_ACTIONS,
        resourceArns: indexes.map((index) => `${table.tableArn}/index/${index}`),
      });
    }
    // The house tables use the AWS managed key, which needs no grant; a customer managed key would.
    if (access === 'read') table.encryptionKey?.grantDecrypt(this);
    else table.encryptionKey?.grantEncryptDecrypt(this);
    return this;
  }
}
