"""interop: how unitrace talks to the files, systems and partners around it (issue 17).

- `imports`: Excel and CSV files in (master data, units, events), dry run first, streamed.
- `exports`: every list out as .xlsx or .csv, streamed, cells safe against formula injection.
- `epcis`: GS1 EPCIS 2.0 capture and query (REST binding, JSON-LD), CBV event hash IDs.
- `webhooks`: subscriptions, an outbox written with the event, signed deliveries, retries.

Every import and every captured event goes through the ledger's one write pipeline."""
