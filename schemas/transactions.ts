import { defineSchema, field, type EventOf } from './schema.ts';

export const transactionsSchema = defineSchema({
  name: 'transactions',
  timeField: 'ts',
  idField: 'txn_id',
  fields: {
    txn_id: field.string('unique id of the card transaction'),
    ts: field.timestamp('event time: epoch ms or ISO-8601 with Z/offset'),
    user_id: field.string('card holder'),
    country: field.string('country where the card was used'),
    amount: field.minorUnits('amount; input as a decimal with at most 2 places, held as integer minor units'),
    currency: field.optionalString('ISO currency code'),
    merchant: field.optionalString('merchant name or id'),
  },
});

export type TransactionEvent = EventOf<typeof transactionsSchema>;
