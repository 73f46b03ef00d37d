"""Webhooks (issue 17): subscriptions, an outbox written in the transaction of each event or
alert, a worker that delivers it signed and retries for a day, a delivery log, replays.

- `outbox`: the pipeline step and the signal listener that write the outbox rows;
- `worker`: claims due deliveries, POSTs them, records every attempt;
- `service`: subscriptions, the delivery log, replays (what the API, page and CLI call);
- `routes`: the API.
"""
