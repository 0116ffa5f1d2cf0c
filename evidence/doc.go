// Package evidence builds and verifies the evidence of an envelope: the evidence bundle (one
// ZIP file holding the signed PDFs, the sealed evidence report, every ledger leaf of the
// envelope with its inclusion proof to one checkpoint, that checkpoint and its timestamp token,
// the ledger verifier key, the CA chain, revocation data, the commitment salt and the clear
// values that open the commitments) and the evidence report (a PDF in French and English,
// sealed by the platform seal). The format is documented in docs/EVIDENCE.md.
//
// Guarantees:
//
//   - Verify is pure: it needs only the bundle and the trust roots it is given (and, when asked,
//     the read API of a live ledger). It never trusts a certificate, a key or a checkpoint
//     because the bundle says so: signatures chain to Options.Roots; the ledger key is the one
//     pinned in Options.LedgerKey when set, and otherwise reported as taken from the bundle.
//   - Verify names every failure: which file, which leaf (index and event type), which proof,
//     which signer, which document, which page. Report.Valid is true only when every check
//     holds.
//   - Every line of the evidence report is derived from the bundle by RenderReport, a
//     deterministic function; Verify renders it again and checks that the sealed report begins
//     with exactly those bytes, so the report cannot say anything the bundle does not back.
//   - Parse bounds everything it reads (entries, sizes, nesting) and refuses duplicate or
//     unsafe paths and files not listed in the manifest.
//
// Building (build.go) is separate from verifying (verify.go and the files it uses) and only
// the builder talks to the appliance's services, through small interfaces.
package evidence
