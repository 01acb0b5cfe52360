/**
 * CloudFormation metadata keys the CDK constructs write on synthesized resources and the local stack reads
 * back from the templates, so that it runs what the templates say without retyping it.
 */

/**
 * On every AWS::Lambda::Function: the function's source entry relative to the repository root (e.g.
 * `lambda/broadcast/handler.ts`), the module the local stack runs for it; its export is always `handler`.
 */
export const ENTRY_METADATA_KEY = 'realtime-comments:entry';

/**
 * On every AWS::DynamoDB::Table: the `id` of the table schema it was built from (`Connections`,
 * `Comments`), so that each DynamoDB Local table is created from the same schema object.
 */
export const TABLE_SCHEMA_METADATA_KEY = 'realtime-comments:table-schema';

/** Set by the CDK CLI (and by the local stack's synthesis) on assets: where a function's bundle is. */
export const ASSET_PATH_METADATA_KEY = 'aws:asset:path';
