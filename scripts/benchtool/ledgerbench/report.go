package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// report prints the results of one scripts/bench.d/ledger.sh run side by side. The script
// labels its runs a1, a64, seq20k, seq200k, lat200 and proof1m.
func report(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	res := map[string]map[string]map[string]any{} // label → backend → result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue
		}
		label, _ := m["label"].(string)
		backend, _ := m["backend"].(string)
		if res[label] == nil {
			res[label] = map[string]map[string]any{}
		}
		res[label][backend] = m
	}
	if err := sc.Err(); err != nil {
		return err
	}
	num := func(label, backend string, path ...string) (float64, bool) {
		var v any = res[label][backend]
		for _, p := range path {
			m, ok := v.(map[string]any)
			if !ok {
				return 0, false
			}
			v = m[p]
		}
		x, ok := v.(float64)
		return x, ok
	}
	fmt.Fprintf(w, "%-52s %14s %14s %9s\n", "figure", "Badger", "PostgreSQL", "ratio")
	row := func(name, label string, higherBetter bool, format string, path ...string) {
		b, okb := num(label, "badger", path...)
		p, okp := num(label, "pg", path...)
		cell := func(x float64, ok bool) string {
			if !ok {
				return "-"
			}
			return fmt.Sprintf(format, x)
		}
		ratio := "-"
		if okb && okp && b > 0 && p > 0 {
			if higherBetter {
				ratio = fmt.Sprintf("%.2f×", b/p)
			} else {
				ratio = fmt.Sprintf("%.2f×", p/b)
			}
		}
		fmt.Fprintf(w, "%-52s %14s %14s %9s\n", name, cell(b, okb), cell(p, okp), ratio)
	}
	row("durable appends/s, 1 writer", "a1", true, "%.0f", "events_per_s")
	row("durable appends/s, 64 writers", "a64", true, "%.0f", "events_per_s")
	row("  mean group size, 64 writers", "a64", true, "%.1f", "mean_group")
	row("  ack latency p99 ms, 64 writers", "a64", false, "%.2f", "ack_ms", "p99")
	row("bytes written per event, 64 writers (processes)", "a64", false, "%.0f", "proc_bytes_per_ev")
	row("bytes written per event, 64 writers (device)", "a64", false, "%.0f", "disk_bytes_per_ev")
	row("bytes written per event, 1 writer (processes)", "a1", false, "%.0f", "proc_bytes_per_ev")
	row("sequencing leaves/s, 20k backlog", "seq20k", true, "%.0f", "leaves_per_s")
	row("sequencing leaves/s, 200k backlog", "seq200k", true, "%.0f", "leaves_per_s")
	row("  last 10 passes p50 ms, 200k backlog", "seq200k", false, "%.1f", "last10_pass_ms", "p50")
	row("append→integrated p50 ms, 200 ev/s", "lat200", false, "%.2f", "append_to_integrated_ms", "p50")
	row("append→integrated p99 ms, 200 ev/s", "lat200", false, "%.2f", "append_to_integrated_ms", "p99")
	row("tree build leaves/s (queue 10k + sequence), to 1M", "proof1m", true, "%.0f", "build_leaves_per_s")
	row("inclusion proof p50 ms, 1M leaves", "proof1m", false, "%.3f", "proof_ms", "p50")
	row("inclusion proof p99 ms, 1M leaves", "proof1m", false, "%.3f", "proof_ms", "p99")
	fmt.Fprintln(w, "ratio: Badger ÷ PostgreSQL for rates, PostgreSQL ÷ Badger for latencies and bytes (> 1 favours Badger)")
	return nil
}
