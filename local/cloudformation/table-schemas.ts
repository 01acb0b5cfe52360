import { TABLE_SCHEMA_METADATA_KEY } from '../../contracts/cfn-metadata';
import { commentsTableSchema, connectionsTableSchema, type TableSchema } from '../../contracts/table-schema';
import type { LocalTable } from './local-model';
import { resourceOf, TemplateModelError, type StackTemplate } from './template';

const SCHEMAS: readonly TableSchema[] = [connectionsTableSchema, commentsTableSchema];

/**
 * The schema a table was built from, by the id its construct wrote into the template's metadata, so that
 * DynamoDB Local's table is created from the very schema object the deployed one was.
 */
export function tableSchemaOf(table: LocalTable, stacks: readonly StackTemplate[]): TableSchema {
  const stack = stacks.find((s) => s.stackName === table.stackName);
  const id = stack ? resourceOf(stack, table.logicalId)?.Metadata?.[TABLE_SCHEMA_METADATA_KEY] : undefined;
  const schema = SCHEMAS.find((s) => s.id === id);
  if (!schema) {
    throw new TemplateModelError(
      `Table ${table.logicalId} names no known schema (metadata ${TABLE_SCHEMA_METADATA_KEY})`,
    );
  }
  return schema;
}
