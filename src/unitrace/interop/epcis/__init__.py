"""EPCIS 2.0 (GS1): identifiers, the CBV 2.0 event hash ID and JSON Schema validation.

- `identifiers`: EPC URNs and GS1 Digital Link URIs of the same thing → one canonical string.
- `hashing`: the CBV 2.0 event hash ID (`ni:///sha-256;…?ver=CBV2.0`) and its pre-hash string.
- `schema`: an EPCISDocument or one event checked against the EPCIS 2.0 JSON Schema; every
  problem named by its JSON path.

`EPCIS-JSON-Schema.json` and `epcis-context.jsonld` are unmodified copies of GS1's files
(github.com/gs1/EPCIS @ 2b888befbc, Apache License 2.0), vendored so that nothing outside the
package is read at run time. The hash algorithm follows CBV 2.0 §8.9 and its reference
implementation (github.com/RalphTro/epcis-event-hash-generator, MIT); see docs/epcis-hash.md.
"""
