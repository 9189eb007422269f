import { defineSchema, field, type EventOf } from './schema.ts';

export const clicksSchema = defineSchema({
  name: 'clicks',
  timeField: 'ts',
  idField: 'event_id',
  fields: {
    event_id: field.string('unique id of the click (duplicates are counted as they come)'),
    ts: field.timestamp('event time: epoch ms or ISO-8601 with Z/offset'),
    url: field.string('page URL'),
    visitor_id: field.string('visitor identifier (hashed for unique counts)'),
    country: field.optionalString('ISO country code'),
    referrer: field.optionalString('HTTP referrer'),
    user_agent: field.optionalString('HTTP user agent'),
  },
});

export type ClickEvent = EventOf<typeof clicksSchema>;
