package evidence

import (
	"fmt"
	"io"
)

// WriteText writes a human-readable form of the report, naming the bundle as name.
func (r *Report) WriteText(w io.Writer, name string) {
	status := "INVALID"
	if r.Valid {
		status = "VALID"
	}
	fmt.Fprintf(w, "%s: %s (evidence bundle of envelope %s %q, %s, scope %s)\n", name, status, r.Envelope, r.Title, r.Status, r.Scope)
	c := r.Checkpoint
	fmt.Fprintf(w, "  checkpoint %s size %d root %s, timestamped %s, key from %s: %s\n", c.Origin, c.Size, c.Root, fmtTime(c.Time), c.KeySource, yes(c.Valid))
	fmt.Fprintf(w, "  %d ledger leaves; commitments: %d opened, %d undisclosed, %d superseded, %d failed\n",
		r.Leaves, r.Commitment.Opened, r.Commitment.Undisclosed, r.Commitment.Superseded, r.Commitment.Failed)
	for _, d := range r.Documents {
		fmt.Fprintf(w, "  document %s %q: %s", d.ID, d.Name, yes(d.Valid))
		if d.Level != "" {
			fmt.Fprintf(w, " (PAdES %s)", d.Level)
		}
		fmt.Fprintln(w)
	}
	for _, s := range r.Signers {
		fmt.Fprintf(w, "  signer %s %s: %s, ceremony %s\n", s.ID, s.Name, s.Outcome, yes(s.Valid))
	}
	for _, rv := range r.Revocation {
		fmt.Fprintf(w, "  %s %s: %s\n", rv.Kind, rv.File, rv.Status)
	}
	if r.Report != nil {
		fmt.Fprintf(w, "  evidence report: seal %s", yes(r.Report.Valid))
		if r.Report.Level != "" {
			fmt.Fprintf(w, " (PAdES %s)", r.Report.Level)
		}
		fmt.Fprintln(w)
	}
	if r.Live != nil {
		fmt.Fprintf(w, "  live ledger %s: size %d, consistent %s\n", r.Live.URL, r.Live.Size, yes(r.Live.Consistent))
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  FAILED: %s\n", f)
	}
	for _, x := range r.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", x)
	}
}

func yes(b bool) string {
	if b {
		return "ok"
	}
	return "FAILED"
}
