import { ConfigError } from '../pipeline/errors.ts';
import { clicksSchema } from './clicks.ts';
import type { EventSchema } from './schema.ts';
import { transactionsSchema } from './transactions.ts';

export * from './schema.ts';
export { clicksSchema, type ClickEvent } from './clicks.ts';
export { transactionsSchema, type TransactionEvent } from './transactions.ts';

export const schemas: Record<string, EventSchema> = {
  clicks: clicksSchema,
  transactions: transactionsSchema,
};

export function schemaByName(name: string): EventSchema {
  const schema = schemas[name];
  if (!schema) throw new ConfigError(`unknown schema "${name}"; known: ${Object.keys(schemas).join(', ')}`);
  return schema;
}
