package signerui

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// catalog is one language's messages. A message may hold named arguments: "Page {page} / {total}".
type catalog map[string]string

// format returns the message for key with its {name} arguments replaced; a missing key shows
// as the key itself (the catalog tests make sure none is missing).
func (c catalog) format(key string, args ...any) string {
	m, ok := c[key]
	if !ok {
		return key
	}
	for i := 0; i+1 < len(args); i += 2 {
		m = strings.ReplaceAll(m, "{"+fmt.Sprint(args[i])+"}", fmt.Sprint(args[i+1]))
	}
	return m
}

// loadCatalogs reads messages/fr.json and messages/en.json and checks that they have the same
// keys.
func loadCatalogs(fsys fs.FS) (map[string]catalog, error) {
	cats := map[string]catalog{}
	for _, l := range []string{"fr", "en"} {
		b, err := fs.ReadFile(fsys, "messages/"+l+".json")
		if err != nil {
			return nil, fmt.Errorf("signerui: catalog %s: %w", l, err)
		}
		var c catalog
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("signerui: catalog %s: %w", l, err)
		}
		cats[l] = c
	}
	if missing := diffKeys(cats["fr"], cats["en"]); len(missing) > 0 {
		return nil, fmt.Errorf("signerui: the fr and en catalogs differ on %s", strings.Join(missing, ", "))
	}
	return cats, nil
}

func diffKeys(a, b catalog) []string {
	var out []string
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
