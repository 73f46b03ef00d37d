"""After-sales: warranty, service cases (售后工单), repairs and spare parts, claim checks.

The rooms:

- `warranty`: a unit's warranty from its product's policy (months, the event it starts at, a
  fallback), overrides by region or channel party, a part's own policy, and the unit's
  extensions and voids. The start date always comes from the ledger's own events.
- `cases`: service cases, their states and history, reporters, symptom and defect codes, notes,
  attachments, cost lines, and every physical step as a ledger event through the one write path
  (`ledger.pipeline`), linked to the case as a business transaction.
- `claims`: the checks run on every case opened as a warranty claim (pass, flag or refuse, all
  at once), the rules that say which refuse, overrides and stolen reports.
- `spares`: spare-part requests (备件申请) made when a diagnosis needs a part the service location
  does not have, the warehouse's pick list, and their fulfilment by scan (a pipeline step).
- `figures`: returns and repairs in the quality views, warranty cost, top defect codes.
- `desk`: the service desk's one answer for a scanned serial (dossier, warranty, checks, cases).
- `steps`, `reads`: what after-sales plugs into the ledger's write pipeline and dossier.
- `routes`, `schemas`: the API.

After-sales owns its tables (`db.tables`, "after-sales"); the ledger imports nothing of it.
"""
